"""Access logs: a stage's ``accessLogSettings.format`` filled from ``$context``.

The format is API Gateway's (``$context.requestId``, ``$context.status``...;
the CLF/JSON/XML/CSV presets of the console are such formats). Lines go to
the ``mqgate.apigateway.access`` logger, or are appended to a file when the
destination is ``file:///path``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger("mqgate.apigateway.access")

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")

#: The presets the console offers, for documentation and tests.
PRESETS = {
    "CLF": '$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] '
           '"$context.httpMethod $context.resourcePath $context.protocol" $context.status '
           '$context.responseLength $context.requestId',
    "JSON": '{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
            '"caller":"$context.identity.caller", "user":"$context.identity.user",'
            '"requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod",'
            '"resourcePath":"$context.resourcePath", "status":"$context.status",'
            '"protocol":"$context.protocol", "responseLength":"$context.responseLength" }',
    "XML": '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> '
           '<caller>$context.identity.caller</caller> <user>$context.identity.user</user> '
           '<requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> '
           '<resourcePath>$context.resourcePath</resourcePath> <status>$context.status</status> '
           '<protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> </request>',
    "CSV": '$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,'
           '$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,'
           '$context.responseLength,$context.requestId',
}


def format_line(template: str, context: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        current: Any = context
        for part in match.group(1).split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return "-" if current in (None, "") else str(current)
    return _VARIABLE.sub(value, template)


#: Open access-log files by path, appended to line by line (kept open: one write per request).
_FILES: dict[str, Any] = {}


def _file(path: str) -> Any:
    handle = _FILES.get(path)
    if handle is None or handle.closed:
        handle = _FILES[path] = open(path, "a", encoding="utf-8", buffering=1)
    return handle


def write(settings: dict[str, Any] | None, context: dict[str, Any]) -> None:
    if not settings or not settings.get("format"):
        return
    line = format_line(settings["format"], context)
    destination = settings.get("destinationArn", "")
    if destination.startswith("file://"):
        try:
            _file(destination[len("file://"):]).write(line + "\n")
        except OSError as error:
            log.warning("event=access_log_write_failed destination=%s error=%s", destination, error)
    else:
        log.info("%s", line)
