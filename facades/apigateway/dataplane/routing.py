"""Which resource and method of a deployment a request path names.

API Gateway matches segment by segment: a literal path part beats a
``{param}``, which beats a greedy ``{proxy+}`` (which takes the rest of the
path, at least one segment); a method falls back to ``ANY``. No match is
``403 Missing Authentication Token``, never 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass
class _Node:
    resource: dict[str, Any] | None = None
    literals: dict[str, "_Node"] = field(default_factory=dict)
    param: tuple[str, "_Node"] | None = None
    greedy: tuple[str, "_Node"] | None = None


@dataclass(frozen=True)
class Match:
    resource: dict[str, Any]
    method: dict[str, Any]
    path_params: dict[str, str]


class Router:
    def __init__(self, resources: dict[str, dict[str, Any]]) -> None:
        self._root = _Node()
        for resource in resources.values():
            node = self._root
            for part in [p for p in resource["path"].split("/") if p]:
                if part.startswith("{") and part.endswith("+}"):
                    if node.greedy is None:
                        node.greedy = (part[1:-2], _Node())
                    node = node.greedy[1]
                elif part.startswith("{") and part.endswith("}"):
                    if node.param is None:
                        node.param = (part[1:-1], _Node())
                    node = node.param[1]
                else:
                    node = node.literals.setdefault(part, _Node())
            node.resource = resource

    def match(self, http_method: str, path: str) -> Match | None:
        segments = [unquote(s) for s in path.split("/") if s]
        found = self._walk(self._root, segments, 0, {}, http_method.upper())
        return found

    def _walk(self, node: _Node, segments: list[str], index: int, params: dict[str, str],
              http_method: str) -> Match | None:
        if index == len(segments):
            return self._method(node, params, http_method)
        segment = segments[index]
        child = node.literals.get(segment)
        if child is not None:
            found = self._walk(child, segments, index + 1, params, http_method)
            if found is not None:
                return found
        if node.param is not None:
            name, child = node.param
            found = self._walk(child, segments, index + 1, {**params, name: segment}, http_method)
            if found is not None:
                return found
        if node.greedy is not None:
            name, child = node.greedy
            return self._method(child, {**params, name: "/".join(segments[index:])}, http_method)
        return None

    @staticmethod
    def _method(node: _Node, params: dict[str, str], http_method: str) -> Match | None:
        if node.resource is None:
            return None
        methods = node.resource.get("resourceMethods", {})
        method = methods.get(http_method) or methods.get("ANY")
        return None if method is None else Match(node.resource, method, params)
