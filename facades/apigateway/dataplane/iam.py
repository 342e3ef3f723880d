"""``AWS_IAM`` method authorization: the caller signs the request with SigV4.

An unsigned request is ``403 Missing Authentication Token``; a signature the
configured keys (``--aws-credentials``) do not verify is AWS's
``INVALID_SIGNATURE`` response. Without configured keys any signature is
accepted, as everywhere else on the AWS port. IAM policies are not evaluated.
"""

from __future__ import annotations

from facades.apigateway.dataplane.errors import GatewayError, missing_token
from facades.apigateway.dataplane.invocation import Invocation
from facades.aws.errors import AwsError
from facades.aws.sigv4 import SigV4Verifier


def authorize(verifier: SigV4Verifier, inv: Invocation) -> None:
    signed = inv.signed
    if signed is None or not ("authorization" in signed.headers
                              or any(name == "X-Amz-Signature" for name, _ in signed.query)):
        raise missing_token()
    try:
        principal = verifier.authenticate(signed)
    except AwsError as error:
        if error.code == "InvalidClientTokenId":
            raise GatewayError("INVALID_SIGNATURE", "The security token included in the request is invalid.") \
                from None
        raise GatewayError("INVALID_SIGNATURE", error.message_for("rest-json")) from None
    identity = inv.context["identity"]
    identity["accessKey"] = principal.access_key or ""
    identity["accountId"] = principal.account_id
    identity["caller"] = principal.access_key or ""
    identity["user"] = principal.access_key or ""
    identity["userArn"] = f"arn:aws:iam::{principal.account_id}:user/{principal.access_key}"
