"""Mapping templates: Velocity (``airspeed``) with API Gateway's variables.

``$input`` (body, ``json(path)``, ``path(path)``, ``params()``), ``$util``
(escapeJavaScript, urlEncode/urlDecode, base64Encode/base64Decode,
parseJson), ``$context`` and ``$stageVariables`` are what API Gateway
exposes to templates; JSONPath is ``jsonpath-ng``'s. Objects handed to a
template answer the Java methods templates call on them (``size()``,
``containsKey()``, ``keySet()``).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath_parse


class TemplateError(Exception):
    """A template that does not parse or fails while rendering."""


class VtlMap(dict):  # type: ignore[type-arg]
    """A dict with the ``java.util.Map`` methods templates use."""

    def size(self) -> int:
        return len(self)

    def containsKey(self, key: Any) -> bool:  # noqa: N802 - Java's name
        return key in self

    def keySet(self) -> list[Any]:  # noqa: N802
        return list(self.keys())

    def isEmpty(self) -> bool:  # noqa: N802
        return not self

    def entrySet(self) -> list[dict[str, Any]]:  # noqa: N802
        return [VtlMap(key=k, value=v) for k, v in self.items()]


def vtl_value(value: Any) -> Any:
    """JSON data as template objects (maps that answer ``size()``, etc.)."""
    if isinstance(value, dict):
        return VtlMap({k: vtl_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return [vtl_value(v) for v in value]
    return value


_PATHS: dict[str, Any] = {}


def jsonpath(document: Any, path: str) -> Any:
    """API Gateway's JSONPath result: the single match, a list of several, or None."""
    expression = _PATHS.get(path)
    if expression is None:
        try:
            expression = jsonpath_parse(path if path.startswith("$") else "$." + path)
        except (JsonPathLexerError, JsonPathParserError, ValueError, TypeError, AttributeError) as error:
            raise TemplateError(f"Invalid JSONPath {path!r}: {error}") from None
        if len(_PATHS) < 1024:
            _PATHS[path] = expression
    matches = [m.value for m in expression.find(document)]
    if not matches:
        return None
    wants_list = any(token in path for token in ("[*]", "..", "[?", ":"))
    return matches if wants_list or len(matches) > 1 else matches[0]


class Input:
    """``$input``: the method request's body and parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]]) -> None:
        self.body = body
        self._params = params
        self._parsed: Any = None
        self._parsed_ok = False

    def _document(self) -> Any:
        if not self._parsed_ok:
            try:
                self._parsed = json.loads(self.body) if self.body.strip() else {}
            except ValueError:
                raise TemplateError("Unable to parse the request body as JSON") from None
            self._parsed_ok = True
        return self._parsed

    def json(self, path: str = "$") -> str:
        return json.dumps(jsonpath(self._document(), path), separators=(",", ":"))

    def path(self, path: str = "$") -> Any:
        return vtl_value(jsonpath(self._document(), path))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return VtlMap({k: VtlMap(v) for k, v in self._params.items()})
        for where in ("path", "querystring", "header"):
            found = self._params.get(where, {})
            if where == "header":
                found = {k.lower(): v for k, v in found.items()}
                name_key = name.lower()
            else:
                name_key = name
            if name_key in found:
                return found[name_key]
        return ""


class Util:
    """``$util``."""

    @staticmethod
    def escapeJavaScript(value: Any) -> str:  # noqa: N802 - API Gateway's name
        text = json.dumps(str(value), ensure_ascii=False)[1:-1]
        return text.replace("'", "\\'")

    @staticmethod
    def urlEncode(value: Any) -> str:  # noqa: N802
        return quote_plus(str(value), safe="*")

    @staticmethod
    def urlDecode(value: Any) -> str:  # noqa: N802
        return unquote_plus(str(value))

    @staticmethod
    def base64Encode(value: Any) -> str:  # noqa: N802
        return base64.b64encode(str(value).encode()).decode()

    @staticmethod
    def base64Decode(value: Any) -> str:  # noqa: N802
        return base64.b64decode(str(value)).decode("utf-8", "replace")

    @staticmethod
    def parseJson(value: Any) -> Any:  # noqa: N802
        try:
            return vtl_value(json.loads(str(value)))
        except ValueError:
            raise TemplateError("Invalid JSON passed to $util.parseJson") from None


_UTIL = Util()
_TEMPLATES: dict[str, airspeed.Template] = {}


def render(template: str, input_: Input, context: dict[str, Any], stage_variables: dict[str, str]) -> str:
    """The template's output; ``context`` may be changed by the template
    (``#set($context.responseOverride.status = 400)``)."""
    if "$" not in template and "#" not in template:
        return template  # literal text (a fixed response body): nothing to evaluate
    compiled = _TEMPLATES.get(template)
    if compiled is None:
        compiled = airspeed.Template(template)
        if len(_TEMPLATES) < 1024:
            _TEMPLATES[template] = compiled
    namespace = {"input": input_, "util": _UTIL, "context": context,
                 "stageVariables": VtlMap(stage_variables)}
    try:
        return compiled.merge(namespace)
    except TemplateError:
        raise
    except Exception as error:  # airspeed's own errors, and anything a method raised
        raise TemplateError(str(error)) from None
