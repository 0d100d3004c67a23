"""The one Kafka admin request aiokafka lacks: IncrementalAlterConfigs (KIP-339, API key 44).

Kafka deprecated the older AlterConfigs (it replaces a topic's whole configuration), and KRaft
clusters and the embedded broker answer IncrementalAlterConfigs, which sets only the keys named.
Version 0 (not "flexible") is enough: every Kafka since 2.3 supports it.
"""

from __future__ import annotations

from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

TOPIC_RESOURCE = 2
SET = 0


class IncrementalAlterConfigsResponse_v0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(("error_code", Int16), ("error_message", String("utf-8")),
                            ("resource_type", Int8), ("resource_name", String("utf-8")))),
    )


class IncrementalAlterConfigsRequest_v0(RequestStruct):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                            ("configs", Array(("name", String("utf-8")), ("config_operation", Int8),
                                              ("value", String("utf-8")))))),
        ("validate_only", Boolean),
    )


class IncrementalAlterConfigsRequest(Request[IncrementalAlterConfigsRequest_v0]):
    API_KEY = 44

    def __init__(self, topic_configs: dict[str, dict[str, str]]):
        self.resources = [(TOPIC_RESOURCE, topic, [(name, SET, value) for name, value in configs.items()])
                          for topic, configs in topic_configs.items()]

    def build(self, request_struct_class):
        return request_struct_class(self.resources, False)


async def set_topic_configs(admin, topic_configs: dict[str, dict[str, str]]) -> None:
    """Set the given keys of each topic's configuration, leaving the other keys as they are."""
    if not topic_configs:
        return
    response = await admin._send_request(IncrementalAlterConfigsRequest(topic_configs))
    for error_code, message, _type, topic in response.responses:
        if error_code:
            raise for_code(error_code)(f"could not alter the configuration of {topic}: {message}")
