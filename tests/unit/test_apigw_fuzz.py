"""Bytes from the wire never crash the REST-JSON codec, the OpenAPI reader, the router or
the template engine: each answers with a value or the AWS error for bad input."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from facades.apigateway.dataplane.routing import Router
from facades.apigateway.dataplane.templates import Input, TemplateError, render
from facades.apigateway.openapi import parse_document
from facades.apigateway.service import apigateway_model
from facades.aws.errors import AwsError
from facades.aws.rest_json import RestRouter, parse_params

_MODEL = apigateway_model()
_ROUTER = RestRouter(_MODEL)
_OPERATIONS = sorted(_MODEL.operation_names)
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(operation=st.sampled_from(_OPERATIONS), body=st.binary(max_size=200),
       query=st.lists(st.tuples(_text, _text), max_size=4),
       labels=st.dictionaries(_text, _text, max_size=3), headers=st.dictionaries(_text, _text, max_size=3))
def test_rest_json_parsing_answers_or_refuses(operation: str, body: bytes, query: list, labels: dict,
                                              headers: dict) -> None:
    try:
        params = parse_params(_MODEL.operation_model(operation), labels, query, headers, body)
    except AwsError as error:
        assert error.status == 400
    else:
        assert isinstance(params, dict)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
       path=st.text(alphabet="/abcdefgrstuvwxyz{}%+._-0123456789", max_size=60))
def test_routers_never_raise(method: str, path: str) -> None:
    found = _ROUTER.match(method, path, [])
    assert found is None or found[0] in _OPERATIONS
    router = Router({"1": {"id": "1", "path": "/a/{b}/{c+}", "resourceMethods": {"ANY": {"httpMethod": "ANY"}}}})
    router.match(method, path)


@settings(max_examples=200, deadline=None)
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_openapi_reader_answers_or_refuses(body: bytes) -> None:
    try:
        document = parse_document(body)
    except AwsError as error:
        assert error.code == "BadRequestException"
    else:
        assert isinstance(document, dict)


@settings(max_examples=200, deadline=None)
@given(template=st.text(alphabet="$#(){}[].'\"abcdeinpstuxy =!@0123456789\n", max_size=80),
       body=st.text(max_size=60))
def test_templates_render_or_fail_as_template_errors(template: str, body: str) -> None:
    try:
        out = render(template, Input(body, {"path": {}, "querystring": {}, "header": {}}), {}, {})
    except TemplateError:
        return
    assert isinstance(out, str)
