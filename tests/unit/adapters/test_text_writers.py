"""The text writers: Bedrock's Converse request and the parsing of its answer (botocore's Stubber), and
the deterministic composer as the default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from cradlepose.adapters import text_writers
from cradlepose.adapters.text_writers import (
    CONTEXT_TOOL,
    DESCRIBE_TOOL,
    SYSTEM_PROMPT,
    BedrockWriter,
    DeterministicComposer,
    WriterFailed,
    writer_from_settings,
)
from cradlepose.domain import findings
from cradlepose.domain.analysis import SourcePassage, Topic
from cradlepose.domain.keypoints import Keypoint
from cradlepose.settings import get_settings

pytestmark = pytest.mark.unit

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
OVERLAY = b"\x89PNG\r\n\x1a\nfake"


def _findings() -> findings.Findings:
    points = {"left_shoulder": (80, 50), "right_shoulder": (120, 50), "nose": (100, 20), "left_eye": (95, 15),
              "right_eye": (105, 15), "left_hip": (90, 120), "right_hip": (110, 120)}  # fmt: skip
    return findings.analyse(
        [Keypoint(id=findings.BODY.index(n), name=n, x=x, y=y) for n, (x, y) in points.items()]
    )


@pytest.fixture
def runtime() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _answer(tool: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t-1", "name": tool, "input": payload}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 812, "outputTokens": 96, "totalTokens": 908},
        "metrics": {"latencyMs": 1430},
    }


def test_describe_sends_the_overlay_and_the_findings_and_forces_the_tool(
    runtime: tuple[Any, Stubber],
) -> None:
    client, stubber = runtime
    found = _findings()
    sent: dict[str, Any] = {}
    client.meta.events.register(
        "before-parameter-build.bedrock-runtime.Converse", lambda params, **_: sent.update(params)
    )
    # The request: the overlay image first, then the text; the answer forced through the tool
    stubber.add_response(
        "converse",
        _answer(DESCRIBE_TOOL, {"paragraphs": ["Supine, both shoulders seen."]}),
        {
            "modelId": MODEL,
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"image": {"format": "png", "source": {"bytes": OVERLAY}}},
                        {"text": ANY},
                    ],
                }
            ],
            "inferenceConfig": {"maxTokens": 1200, "temperature": 0.0},
            "toolConfig": {
                "tools": [
                    text_writers._tool(DESCRIBE_TOOL, "Record the description.", text_writers._Description)
                ],
                "toolChoice": {"tool": {"name": DESCRIBE_TOOL}},
            },
        },
    )

    text = BedrockWriter(MODEL, client).describe(found, OVERLAY)

    # and the text carries the findings as JSON
    assert json.dumps(found.as_document(), sort_keys=True) in sent["messages"][0]["content"][1]["text"]
    # The answer: the tool's input, the model named, usage kept
    assert text.paragraphs == ["Supine, both shoulders seen."]
    assert text.writer == f"Amazon Bedrock {MODEL}"
    assert text.usage == {"input_tokens": 812, "output_tokens": 96, "latency_ms": 1430}


SOURCES = [SourcePassage(1, 11, "posture", "N — S", "Body.", "Ref 2020.", "h" * 64)]
TOPICS = [Topic("posture", "The infant appears to be supine.", "supine")]


def test_write_context_parses_paragraphs_and_citations(runtime: tuple[Any, Stubber]) -> None:
    client, stubber = runtime
    stubber.add_response(
        "converse",
        _answer(CONTEXT_TOOL, {"paragraphs": ["Supine is how infants sleep [1]."], "cited": [1, 1]}),
        {
            "modelId": MODEL,
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": [{"role": "user", "content": [{"text": ANY}]}],
            "inferenceConfig": {"maxTokens": 1200, "temperature": 0.0},
            "toolConfig": {
                "tools": [text_writers._tool(CONTEXT_TOOL, "Record the report.", text_writers._Context)],
                "toolChoice": {"tool": {"name": CONTEXT_TOOL}},
            },
        },
    )
    text = BedrockWriter(MODEL, client).write_context(_findings(), "desc", TOPICS, SOURCES)
    assert text.paragraphs == ["Supine is how infants sleep [1]."]
    assert text.cited == [1]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"paragraphs": ["See [2]."], "cited": [2]}, "not given"),
        ({"paragraphs": [], "cited": []}, "does not fit"),
        ({"text": "free prose"}, "does not fit"),
    ],
)
def test_an_unusable_answer_fails_the_step(
    runtime: tuple[Any, Stubber], answer: dict[str, Any], problem: str
) -> None:
    client, stubber = runtime
    stubber.add_response("converse", _answer(CONTEXT_TOOL, answer))
    with pytest.raises(WriterFailed, match=problem):
        BedrockWriter(MODEL, client).write_context(_findings(), "desc", TOPICS, SOURCES)


def test_an_answer_without_the_tool_fails_the_step(runtime: tuple[Any, Stubber]) -> None:
    client, stubber = runtime
    stubber.add_response(
        "converse",
        {"output": {"message": {"role": "assistant", "content": [{"text": "I'd rather chat."}]}},
         "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
         "metrics": {"latencyMs": 5}},
    )  # fmt: skip
    with pytest.raises(WriterFailed, match="did not answer with record_description"):
        BedrockWriter(MODEL, client).describe(_findings(), None)


def test_throttling_reaches_the_step_as_the_service_error(runtime: tuple[Any, Stubber]) -> None:
    client, stubber = runtime
    stubber.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    with pytest.raises(ClientError, match="ThrottlingException"):
        BedrockWriter(MODEL, client).describe(_findings(), None)


def test_the_deterministic_composer_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRADLE_BEDROCK_MODEL_ID", raising=False)
    get_settings.cache_clear()
    assert isinstance(writer_from_settings(), DeterministicComposer)
    monkeypatch.setenv("CRADLE_BEDROCK_MODEL_ID", MODEL)
    get_settings.cache_clear()
    writer = writer_from_settings()
    assert isinstance(writer, BedrockWriter)
    assert writer.model_id == MODEL
    get_settings.cache_clear()
