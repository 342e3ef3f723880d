"""The AWS CLI's `apigateway` commands against the broker: a REST API built, deployed,
exported to a file and imported back, and AWS's error codes on failure."""
from __future__ import annotations

import json
from pathlib import Path

from tests.integration.apigw_support import call, stage_url
from tests.integration.sqs_clients import aws_cli


def test_cli_build_deploy_export_import(shared_broker, tmp_path: Path) -> None:
    def apigw(*args: str) -> dict:
        out = aws_cli(shared_broker.aws_url, "apigateway", *args, home=tmp_path).stdout
        return json.loads(out) if out.strip() else {}

    api = apigw("create-rest-api", "--name", "cli-api")
    root = apigw("get-resources", "--rest-api-id", api["id"])["items"][0]["id"]
    hello = apigw("create-resource", "--rest-api-id", api["id"], "--parent-id", root, "--path-part", "hello")
    apigw("put-method", "--rest-api-id", api["id"], "--resource-id", hello["id"], "--http-method", "GET",
          "--authorization-type", "NONE")
    apigw("put-integration", "--rest-api-id", api["id"], "--resource-id", hello["id"], "--http-method", "GET",
          "--type", "MOCK", "--request-templates", '{"application/json": "{\\"statusCode\\": 200}"}')
    apigw("put-integration-response", "--rest-api-id", api["id"], "--resource-id", hello["id"],
          "--http-method", "GET", "--status-code", "200",
          "--response-templates", '{"application/json": "{\\"hello\\": \\"$context.stage\\"}"}')
    apigw("create-deployment", "--rest-api-id", api["id"], "--stage-name", "cli")
    assert call("GET", stage_url(shared_broker.aws_url, api["id"], "cli", "/hello")).json() == {"hello": "cli"}
    export = tmp_path / "export.json"
    aws_cli(shared_broker.aws_url, "apigateway", "get-export", "--rest-api-id", api["id"], "--stage-name", "cli",
            "--export-type", "oas30", "--parameters", "extensions=integrations", str(export), home=tmp_path)
    assert "x-amazon-apigateway-integration" in json.loads(export.read_text())["paths"]["/hello"]["get"]
    copy = apigw("import-rest-api", "--body", f"fileb://{export}")
    assert copy["name"] == "cli-api"


def test_cli_reports_api_gateway_errors(shared_broker, tmp_path: Path) -> None:
    proc = aws_cli(shared_broker.aws_url, "apigateway", "get-rest-api", "--rest-api-id", "missing123",
                   home=tmp_path, check=False)
    assert proc.returncode == 255  # awscli v1: a service error
    assert "NotFoundException" in proc.stderr
    assert "Invalid API identifier specified" in proc.stderr
