"""Mapping templates, one Velocity construct or API Gateway variable at a time. Inputs and
expected outputs follow the examples of AWS's "mapping template variable reference" and
"$input / $util" documentation."""
from __future__ import annotations

import json

import pytest

from facades.apigateway.dataplane.templates import Input, TemplateError, render

# The body AWS's $input examples use.
PETS_BODY = json.dumps({"pets": [{"id": 1, "type": "dog", "price": 249.99},
                                 {"id": 2, "type": "cat", "price": 124.99},
                                 {"id": 3, "type": "fish", "price": 0.99}]})
PARAMS = {"path": {"petId": "7"}, "querystring": {"type": "dog", "page": "2"},
          "header": {"Accept": "application/json", "X-Trace": "abc"}}


def _render(template: str, body: str = PETS_BODY, context: dict | None = None,
            stage: dict | None = None) -> str:
    return render(template, Input(body, PARAMS), context if context is not None else {"requestId": "r-1"},
                  stage or {})


def test_input_body_is_the_raw_payload() -> None:
    assert _render("$input.body", body='{"a": 1}') == '{"a": 1}'


def test_input_json_returns_json_text() -> None:
    assert _render("$input.json('$.pets[0]')") == '{"id":1,"type":"dog","price":249.99}'
    assert _render("$input.json('$.pets[*].type')") == '["dog","cat","fish"]'
    assert json.loads(_render("$input.json('$')")) == json.loads(PETS_BODY)


def test_input_path_returns_objects_templates_can_walk() -> None:
    template = ("#set($inputRoot = $input.path('$'))"
                "#foreach($elem in $inputRoot.pets){\"id\": $elem.id, \"type\": \"$elem.type\"}"
                "#if($foreach.hasNext),#end#end")
    assert _render(template) == '{"id": 1, "type": "dog"},{"id": 2, "type": "cat"},{"id": 3, "type": "fish"}'
    assert _render("$input.path('$.pets').size()") == "3"
    assert _render("$input.path('$.pets[1].price')") == "124.99"


def test_input_params_all_and_by_name() -> None:
    template = ("#set($allParams = $input.params())"
                "#foreach($type in $allParams.keySet())#set($params = $allParams.get($type))"
                "$type:#foreach($name in $params.keySet())$name=$params.get($name)#if($foreach.hasNext),#end#end;"
                "#end")
    assert _render(template) == "path:petId=7;querystring:type=dog,page=2;header:Accept=application/json,X-Trace=abc;"
    assert _render("$input.params('petId') $input.params('page') $input.params('x-trace')") == "7 2 abc"
    assert _render("[$input.params('absent')]") == "[]"


def test_set_if_elseif_else() -> None:
    template = ("#set($price = $input.path('$.pets[0].price'))"
                "#if($price > 500)expensive#elseif($price > 100)moderate#else cheap#end")
    assert _render(template) == "moderate"


def test_foreach_over_a_list_literal() -> None:
    assert _render("#foreach($i in [1, 2, 3])$i#if($foreach.hasNext)-#end#end") == "1-2-3"


def test_util_functions() -> None:
    assert _render('$util.escapeJavaScript("He said \\"hi\\"")') == 'He said \\"hi\\"'
    assert _render("$util.escapeJavaScript(\"it's\")") == "it\\'s"
    assert _render('$util.urlEncode("a b&c=d")') == "a+b%26c%3Dd"
    assert _render('$util.urlDecode("a+b%26c%3Dd")') == "a b&c=d"
    assert _render('$util.base64Encode("hello")') == "aGVsbG8="
    assert _render('$util.base64Decode("aGVsbG8=")') == "hello"
    assert _render("#set($p = $util.parseJson('{\"a\": {\"b\": 5}}'))$p.a.b") == "5"


def test_context_and_stage_variables() -> None:
    context = {"requestId": "req-1", "stage": "prod", "identity": {"sourceIp": "10.0.0.1"},
               "authorizer": {"principalId": "user-1"}}
    template = "$context.requestId $context.stage $context.identity.sourceIp $context.authorizer.principalId $stageVariables.color"
    assert _render(template, context=context, stage={"color": "blue"}) == "req-1 prod 10.0.0.1 user-1 blue"


def test_overrides_are_written_back_to_the_context() -> None:
    context = {"requestOverride": {"header": {}}, "responseOverride": {"header": {}, "status": None}}
    _render('#set($context.responseOverride.status = 418)'
            '#set($context.requestOverride.header.XExtra = "yes")', context=context)
    assert context["responseOverride"]["status"] == 418
    assert context["requestOverride"]["header"] == {"XExtra": "yes"}


def test_sqs_send_message_template_from_the_aws_tutorial() -> None:
    out = _render("Action=SendMessage&MessageBody=$util.urlEncode($input.body)", body='{"a": "b c"}')
    assert out == "Action=SendMessage&MessageBody=%7B%22a%22%3A+%22b+c%22%7D"


def test_failures_are_template_errors() -> None:
    with pytest.raises(TemplateError):
        _render("$input.json('$.pets')", body="{not json")
    with pytest.raises(TemplateError):
        _render("$util.parseJson('{broken')")
