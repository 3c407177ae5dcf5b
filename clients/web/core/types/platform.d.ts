// The host globals core/ relies on, and nothing more: each is present in browsers,
// in Node.js 20 and in VS Code's extension host. Core is typechecked against this
// file alone (core/tsconfig.json), so using anything browser-only (document,
// localStorage, Blob...) or Node-only (Buffer, process...) fails the build.
// The tests and the browser build typecheck the same code against @types/node and
// lib.dom instead (core/test/tsconfig.json, core/tsconfig.dom.json).

interface PlatformTimer {
  readonly __platformTimer?: never;
}
declare function setTimeout(callback: () => void, ms?: number): PlatformTimer;
declare function clearTimeout(timer: PlatformTimer | undefined): void;
declare function queueMicrotask(callback: () => void): void;

declare class TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array<ArrayBuffer>): string;
}

declare class URL {
  constructor(url: string, base?: string);
  readonly protocol: string;
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  readonly search: string;
  readonly hash: string;
}

interface PlatformCryptoKey {
  readonly type: string;
  readonly extractable: boolean;
  readonly usages: string[];
}
interface PlatformSubtleCrypto {
  importKey(
    format: "raw",
    keyData: Uint8Array<ArrayBuffer>,
    algorithm: { name: "AES-GCM" },
    extractable: boolean,
    keyUsages: ("encrypt" | "decrypt")[],
  ): Promise<PlatformCryptoKey>;
  encrypt(
    algorithm: { name: "AES-GCM"; iv: Uint8Array<ArrayBuffer>; additionalData: Uint8Array<ArrayBuffer>; tagLength: number },
    key: PlatformCryptoKey,
    data: Uint8Array<ArrayBuffer>,
  ): Promise<ArrayBuffer>;
  decrypt(
    algorithm: { name: "AES-GCM"; iv: Uint8Array<ArrayBuffer>; additionalData: Uint8Array<ArrayBuffer>; tagLength: number },
    key: PlatformCryptoKey,
    data: Uint8Array<ArrayBuffer>,
  ): Promise<ArrayBuffer>;
}
declare var crypto: {
  getRandomValues<T extends Uint8Array<ArrayBuffer>>(array: T): T;
  readonly subtle: PlatformSubtleCrypto;
};
