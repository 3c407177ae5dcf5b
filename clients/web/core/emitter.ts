// A small typed event emitter (Node's EventEmitter and the DOM's EventTarget are
// each missing on one of core's hosts).

export type Listener<T> = (event: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Calls `listener` for each `name` event; returns the function that stops it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  /** Calls `listener` for the next `name` event only. */
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const stop = this.on(name, (event) => {
      stop();
      listener(event);
    });
    return stop;
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(listener as Listener<never>);
  }

  /** The next `name` event, as a promise. */
  next<K extends keyof Events>(name: K): Promise<Events[K]> {
    return new Promise((resolve) => this.once(name, resolve));
  }

  /** Where an exception thrown by a listener goes. By default it is thrown again
   *  on its own, later, where the host reports uncaught errors. */
  onListenerError: (error: unknown) => void = (error) => {
    setTimeout(() => {
      throw error;
    }, 0);
  };

  /** Calls every listener of `name`. A listener that throws stops neither the
   *  others nor the emitter's owner: its exception goes to onListenerError. */
  emit<K extends keyof Events>(name: K, event: Events[K]): void {
    const set = this.listeners.get(name);
    if (set === undefined) return;
    for (const listener of [...set] as Listener<Events[K]>[]) {
      try {
        listener(event);
      } catch (thrown) {
        this.onListenerError(thrown);
      }
    }
  }
}
