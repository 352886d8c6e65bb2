"""schemathesis hooks for scripts/api-fuzz: a serializer for the NDJSON bodies of the stream
routes, which schemathesis has none for. A generated string is sent as it is; anything else as
one JSON document per line."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
