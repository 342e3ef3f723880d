"""The avatar every door carries on a connection or request once the portal let it in."""
from __future__ import annotations

from dataclasses import dataclass

from zope.interface import Attribute, Interface, implementer

ANONYMOUS = "anonymous"


class IIdentity(Interface):
    """What the portal hands a door: the user's name and the groups it had at login."""

    name = Attribute("user name, as ActiveMQ's SecurityContext names it in its errors")
    groups = Attribute("frozenset of group names")
    account = Attribute("AWS account id of the access key used, or None")


@implementer(IIdentity)
@dataclass(frozen=True)
class Identity:
    name: str
    groups: frozenset[str] = frozenset()
    account: str | None = None
    anonymous: bool = False
