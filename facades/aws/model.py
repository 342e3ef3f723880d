"""Service models: botocore's own JSON files are the API definition.

The operation allow-list of a facade is the operation list of the model
botocore ships, so a name read from the wire is only ever looked up in it.

Services that moved from the Query protocol to JSON (SQS in 2024) no longer
ship the Query serialization traits (``locationName``, the legacy ``error``
codes, ``resultWrapper``, ``xmlNamespace``); only ``flattened`` and the
``awsQueryCompatible`` flag survived. :func:`query_compatible_model` puts
them back from the last Query-protocol model botocore released, onto the
*current* model's shapes, so both protocols parse into the same typed
params and members added since (e.g. ``MessageSystemAttributeNames``) are
reachable over Query too, named by the Query protocol's defaults.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

_shipped_loader = Loader()

#: Shape-level traits that only mean something to the Query/XML protocol.
_SHAPE_TRAITS = ("flattened", "locationName", "error", "xmlNamespace")
#: Member-reference traits, copied onto a structure member or list/map ref.
_REF_TRAITS = ("locationName", "flattened", "resultWrapper", "xmlNamespace")


def shipped_model(service_name: str) -> ServiceModel:
    """The model the installed botocore uses for ``service_name``."""
    return ServiceModel(_shipped_loader.load_service_model(service_name, "service-2"), service_name)


def load_model_dict(data_path: Path, service_name: str) -> dict[str, Any]:
    """A model from a botocore-layout data directory, and only from there.

    The vendored directory doubles as a botocore data path for tests that
    want an unmodified client speaking the old protocol, so it is read the
    same way botocore reads it.
    """
    loader = Loader(extra_search_paths=[str(data_path)], include_default_search_paths=False)
    return loader.load_service_model(service_name, "service-2")


def query_compatible_model(current: ServiceModel, legacy: dict[str, Any]) -> ServiceModel:
    """``current``'s shapes and operations with ``legacy``'s Query traits."""
    model = copy.deepcopy(_raw(current))
    legacy_shapes = legacy["shapes"]
    model["metadata"] = {
        **{k: v for k, v in model["metadata"].items() if k not in ("jsonVersion", "targetPrefix")},
        "protocol": "query",
        "protocols": ["query"],
        "xmlNamespace": legacy["metadata"]["xmlNamespace"],
    }
    for name, operation in model["operations"].items():
        old = legacy["operations"].get(name, {})
        if "output" in operation:
            operation["output"].setdefault(
                "resultWrapper", old.get("output", {}).get("resultWrapper", f"{name}Result")
            )
    for name, shape in model["shapes"].items():
        old = legacy_shapes.get(name)
        if old is not None:
            _copy_traits(shape, old)
    return ServiceModel(model, current.service_name)


def _raw(model: ServiceModel) -> dict[str, Any]:
    # ServiceModel keeps the dict it was built from; there is no public
    # accessor, and re-loading would lose models built in memory.
    return model._service_description  # noqa: SLF001


def _copy_traits(shape: dict[str, Any], old: dict[str, Any]) -> None:
    for trait in _SHAPE_TRAITS:
        if trait in old:
            shape[trait] = old[trait]
    for ref in ("member", "key", "value"):
        if ref in shape and ref in old:
            _copy_ref_traits(shape[ref], old[ref])
    old_members = old.get("members", {})
    for member_name, member in shape.get("members", {}).items():
        if member_name in old_members:
            _copy_ref_traits(member, old_members[member_name])


def _copy_ref_traits(ref: dict[str, Any], old: dict[str, Any]) -> None:
    for trait in _REF_TRAITS:
        if trait in old:
            ref[trait] = old[trait]
