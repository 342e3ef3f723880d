"""Which Twisted reactor a broker process runs on.

The broker is one reactor thread, so the event loop's own cost per read and write is
part of every message's. `default` is Twisted's choice for the platform (epoll on
Linux); `uvloop` is Twisted's asyncio reactor on uvloop (libuv), which spends less per
socket event (docs/benchmarks.md has the figures); `asyncio` is the same reactor on the
standard library's loop, for comparison. Installed once, before anything imports
`twisted.internet.reactor`.
"""
from __future__ import annotations

REACTORS = ("default", "uvloop", "asyncio")


class ReactorUnavailable(RuntimeError):
    """The reactor asked for cannot be installed in this process."""


def install(name: str) -> None:
    if name == "default":
        return
    if name not in REACTORS:
        raise ReactorUnavailable(f"reactor must be one of {', '.join(REACTORS)}")
    import asyncio

    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ReactorUnavailable("reactor uvloop needs the uvloop package "
                                     "(pip install 'mqgate[uvloop]')") from None
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor
    from twisted.internet.error import ReactorAlreadyInstalledError

    try:
        asyncioreactor.install(loop)
    except ReactorAlreadyInstalledError:
        loop.close()
        raise ReactorUnavailable(f"another reactor was installed before {name}") from None
