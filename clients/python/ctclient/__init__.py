"""ctclient: the Python SDK and command line for ctserver sessions.

Everything a session shares is encrypted here, before it leaves the process; the
server only ever sees ciphertext (docs/protocol.md in the ctserver repository).
"""

from ctclient.errors import BadLink, CtClientError, DecryptError, SessionClosed
from ctclient.links import JoinLink
from ctclient.messages import AppMessage
from ctclient.peer import Peer, ReconnectPolicy, create_session

__all__ = [
    "AppMessage",
    "BadLink",
    "CtClientError",
    "DecryptError",
    "JoinLink",
    "Peer",
    "ReconnectPolicy",
    "SessionClosed",
    "create_session",
]
