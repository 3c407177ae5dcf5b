"""Session history: who was connected to which session, never what they shared.

The rows are also the durable state of open sessions: after a server restart, or
on another server, a session's room is rebuilt from them (relay/store.py).
"""

from __future__ import annotations

from django.db import models


class Session(models.Model):
    session_id = models.CharField(max_length=32, primary_key=True)
    host_secret_hash = models.CharField(max_length=64)
    auto_admit = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    # The creating client's address: per-address limits count sessions by it.
    created_by = models.CharField(max_length=64, blank=True)
    ended = models.DateTimeField(null=True, blank=True, db_index=True)
    end_reason = models.CharField(max_length=32, blank=True)
    last_activity = models.DateTimeField()
    first_guest_at = models.DateTimeField(null=True, blank=True)
    last_guest_left_at = models.DateTimeField(null=True, blank=True)
    next_peer_id = models.PositiveIntegerField(default=2)
    peak_peers = models.PositiveIntegerField(default=0)
    frames_relayed = models.PositiveBigIntegerField(default=0)
    bytes_relayed = models.PositiveBigIntegerField(default=0)
    # The server holding the session (its id, as the dashboard and the ct-server
    # header give it); empty once that server handed it back on a clean stop. A
    # server that finds another's id here took the session over after a failure.
    served_by = models.CharField(max_length=64, blank=True)
    # With single sign-on: the subject of who created the session, the only person
    # who may host it (a host secret alone is not enough).
    host_subject = models.CharField(max_length=255, blank=True)
    moves = models.PositiveIntegerField(default=0)  # takeovers after a server failed

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["created_by", "created"], name="session_by_address")]

    def __str__(self) -> str:
        return self.session_id

    @property
    def is_open(self) -> bool:
        return self.ended is None


class Participant(models.Model):
    class Role(models.TextChoices):
        HOST = "host"
        GUEST = "guest"

    class State(models.TextChoices):
        LOBBY = "lobby"
        ADMITTED = "admitted"
        DENIED = "denied"
        LEFT = "left"
        REMOVED = "removed"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="participants")
    peer_id = models.PositiveIntegerField()
    display_name = models.CharField(max_length=64)
    role = models.CharField(max_length=8, choices=Role.choices)
    state = models.CharField(max_length=8, choices=State.choices)
    read_only = models.BooleanField(default=False)
    secret_hash = models.CharField(max_length=64)
    # The secret the peer last proved it holds, still accepted: the welcome that
    # carried the newest one may have been lost in transit (docs/protocol.md §5.3).
    proven_secret_hash = models.CharField(max_length=64, blank=True)
    client = models.CharField(max_length=64, blank=True)
    # The guest's address: a removed or denied guest's address is remembered per session.
    address = models.CharField(max_length=64, blank=True)
    # With single sign-on (relay/identity.py): whether the provider vouched for this
    # peer, and its address and subject there. Null: the server did not use SSO.
    verified = models.BooleanField(null=True, blank=True)
    email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    joined = models.DateTimeField(auto_now_add=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    frames_sent = models.PositiveBigIntegerField(default=0)
    bytes_sent = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["session", "peer_id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "peer_id"], name="unique_peer_per_session")
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.peer_id} {self.display_name}"
