"""The Lab Streaming Layer: liblsl's configuration, and pylsl imported on first use.

neurofb speaks LSL through pylsl, whose wheels bundle liblsl. liblsl reads one configuration
file, once, when it is first used (``lsl_api.cfg``: the file named by the ``LSLAPICFG``
environment variable, else ``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg``,
``/etc/lsl_api/lsl_api.cfg``). It decides which network addresses stream discovery reaches.
By default that is the local network (``ResolveScope = site``).

To keep every stream on this computer — LSL between neurofb and a game, LabRecorder or the
OpenBCI GUI running on the same machine, nothing sent to the network — use the machine-only
configuration :data:`MACHINE_ONLY` (``neurofb stream --lsl-local``, or write it with
:func:`write_config` and point ``LSLAPICFG`` at it). :func:`use_config` must run before the
first LSL call of the process; the CLI does it before opening the stream.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from types import ModuleType

from neurofb.errors import NeurofbError

__all__ = [
    "ENV",
    "MACHINE_ONLY",
    "LslError",
    "local_clock",
    "machine_only_config",
    "pylsl",
    "use_config",
    "write_config",
    "xpath_literal",
]

#: The environment variable liblsl reads its configuration file's path from.
ENV = "LSLAPICFG"

#: A configuration that keeps discovery and streaming on this machine (loopback only, IPv4).
MACHINE_ONLY = """\
; neurofb: Lab Streaming Layer confined to this computer (loopback only).
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
MachineAddresses = {{127.0.0.1}}
LinkAddresses = {{}}
SiteAddresses = {{}}
OrganizationAddresses = {{}}
GlobalAddresses = {{}}
ListenAddress = 127.0.0.1
Interfaces = {{127.0.0.1}}
[lab]
KnownPeers = {{127.0.0.1}}
SessionID = {session_id}
"""


class LslError(NeurofbError):
    """liblsl is missing, or configured too late."""


def machine_only_config(session_id: str = "default") -> str:
    """The text of :data:`MACHINE_ONLY` for an LSL session id (``default`` for other tools).

    Streams are only seen by programs with the same session id: keep ``default`` to meet the
    OpenBCI GUI, LabRecorder or a game; a private id isolates tests.
    """
    if not session_id or any(c in session_id for c in "\n\r[]{}=;"):
        raise ValueError(f"bad LSL session id {session_id!r}")
    return MACHINE_ONLY.format(session_id=session_id)


def write_config(path: str | os.PathLike, *, session_id: str = "default") -> Path:
    """Write the machine-only configuration to ``path`` (replacing it); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(machine_only_config(session_id), encoding="utf-8")
    return out


def use_config(path: str | os.PathLike) -> None:
    """Make liblsl read ``path`` (sets ``LSLAPICFG``); call before the first LSL call.

    Raises
    ------
    LslError
        The file does not exist, or pylsl was imported already with another configuration
        (liblsl reads its configuration once per process).
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise LslError(f"LSL configuration file {p} does not exist")
    current = os.environ.get(ENV)
    if "pylsl" in sys.modules and current != str(p):
        raise LslError(f"liblsl is loaded already (with {current or 'its default'} "
                       f"configuration); {ENV} must be set before the first LSL call")
    os.environ[ENV] = str(p)


@functools.lru_cache(maxsize=1)
def pylsl() -> ModuleType:
    """Return :mod:`pylsl` (imported on first use; loads liblsl).

    Raises
    ------
    LslError
        pylsl or its liblsl cannot be loaded.
    """
    try:
        import pylsl as module
    except (ImportError, RuntimeError, OSError) as err:
        raise LslError(f"the Lab Streaming Layer is not available ({err}): pip install pylsl "
                       "(its wheels bundle liblsl)") from None
    return module


def local_clock() -> float:
    """liblsl's clock in seconds (monotonic; the time base of every LSL timestamp here)."""
    return float(pylsl().local_clock())


def xpath_literal(value: str) -> str:
    """Return ``value`` as an XPath 1.0 string literal (liblsl's queries are XPath).

    XPath has no escapes: a value with one kind of quote is put in the other kind, one with
    both is spliced together with ``concat()``.

    Parameters
    ----------
    value : str
        Any text, e.g. a stream name.

    Returns
    -------
    str
        An expression whose value is ``value``: ``'a b'``, ``"it's"``, ``concat('a', "'", …)``.
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in value.split("'")) + ")"
