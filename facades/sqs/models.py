"""The SQS service models, for both protocols SQS speaks."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from botocore.model import ServiceModel

from facades.aws.model import load_model_dict, query_compatible_model, shipped_model

#: botocore-layout data directory holding the last Query-protocol SQS model
#: (see its README for provenance and license).
LEGACY_QUERY_MODEL_PATH = Path(__file__).parent / "legacy_query_model"


@cache
def sqs_json_model() -> ServiceModel:
    """The model the installed botocore uses: AWS JSON 1.0."""
    return shipped_model("sqs")


@cache
def sqs_query_model() -> ServiceModel:
    """The current model with the Query traits of the vendored one."""
    return query_compatible_model(sqs_json_model(), load_model_dict(LEGACY_QUERY_MODEL_PATH, "sqs"))
