"""Structured logs: one line per event, key=value or JSON, on stderr."""
from __future__ import annotations

import json
import logging
import sys
import time

from twisted.logger import STDLibLogObserver, globalLogBeginner


class _KeyValue(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {record.getMessage()}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": record.created, "level": record.levelname.lower(), "logger": record.name}
        message = record.getMessage()
        for part in message.split(" "):
            key, sep, value = part.partition("=")
            if sep:
                out[key] = value
            else:
                out.setdefault("msg", "")
                out["msg"] = (out["msg"] + " " + part).strip()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _KeyValue())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Twisted's own log events go through the same handler.
    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)
    logging.getLogger("twisted").setLevel(max(logging.WARNING, root.level))
