"""Who writes the analysis reports' text: a deterministic composer, or a model on Amazon Bedrock.

Both answer with a `WrittenText` (paragraphs, the passages cited, the writer's name). The composer
is the default, locally and in the cloud; setting CRADLE_BEDROCK_MODEL_ID switches the cloud to
Bedrock's Converse API. The model is made to answer through a tool whose input schema is the
structure we store, so its answer is parsed, not scraped, and a malformed one fails the stage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cradlepose import __version__
from cradlepose.adapters.aws import client
from cradlepose.domain.analysis import SourcePassage, Topic, WrittenText, check_citations, compose_context
from cradlepose.domain.findings import Findings, describe
from cradlepose.settings import get_settings

M = TypeVar("M", bound=BaseModel)
DETERMINISTIC_NAME = f"cradle deterministic composer {__version__}"


class WriterFailed(Exception):
    """The writer answered, but not with something the report can use."""


class TextWriter(Protocol):
    name: str

    def describe(self, findings: Findings, overlay_png: bytes | None) -> WrittenText: ...

    def write_context(
        self, findings: Findings, description: str, topics: Sequence[Topic], sources: Sequence[SourcePassage]
    ) -> WrittenText: ...


class DeterministicComposer:
    """Writes the text from the findings and quotes the passages: same input, same words."""

    name = DETERMINISTIC_NAME

    def describe(self, findings: Findings, overlay_png: bytes | None) -> WrittenText:
        return WrittenText(paragraphs=[describe(findings)], writer=self.name)

    def write_context(
        self, findings: Findings, description: str, topics: Sequence[Topic], sources: Sequence[SourcePassage]
    ) -> WrittenText:
        return compose_context(topics, sources, self.name)


# ------------------------------------------------------------------ Bedrock

SYSTEM_PROMPT = (
    "You help researchers who build datasets of infant body keypoints. You describe measurements "
    "taken from one photograph. You never diagnose, never predict an outcome, never recommend "
    "treatment, and you state only what the measurements and the given passages support."
)


class _Description(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paragraphs: list[str] = Field(min_length=1, max_length=3)


class _Context(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paragraphs: list[str] = Field(min_length=1, max_length=8)
    cited: list[int]


DESCRIBE_TOOL = "record_description"
CONTEXT_TOOL = "record_report"


def _tool(name: str, description: str, model: type[BaseModel]) -> dict[str, Any]:
    return {
        "toolSpec": {
            "name": name,
            "description": description,
            "inputSchema": {"json": model.model_json_schema()},
        }
    }


class BedrockWriter:
    """Bedrock's Converse API, one call per step, the answer forced through a tool."""

    def __init__(self, model_id: str, runtime: Any | None = None, max_tokens: int = 1200) -> None:
        self.model_id = model_id
        self.name = f"Amazon Bedrock {model_id}"
        self._runtime = runtime
        self._max_tokens = max_tokens

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            self._runtime = client("bedrock-runtime")
        return self._runtime

    def describe(self, findings: Findings, overlay_png: bytes | None) -> WrittenText:
        content: list[dict[str, Any]] = []
        if overlay_png is not None:
            content.append({"image": {"format": "png", "source": {"bytes": overlay_png}}})
        content.append(
            {
                "text": "The image shows an infant with the detected skeleton drawn over it. These are the "
                "measurements computed from its keypoints (JSON):\n"
                + json.dumps(findings.as_document(), sort_keys=True)
                + "\nDescribe the posture and the measurements in plain language for a researcher, in at "
                "most three short paragraphs. Name occluded or missing keypoints. Answer with "
                f"{DESCRIBE_TOOL}."
            }
        )
        answer, usage = self._converse(content, _tool(DESCRIBE_TOOL, "Record the description.", _Description))
        parsed = self._parse(_Description, answer)
        return WrittenText(paragraphs=parsed.paragraphs, writer=self.name, usage=usage)

    def write_context(
        self, findings: Findings, description: str, topics: Sequence[Topic], sources: Sequence[SourcePassage]
    ) -> WrittenText:
        passages = "\n".join(f"[{s.number}] ({s.topic}) {s.title}: {s.body}" for s in sources)
        leads = "\n".join(f"- {t.name}: {t.lead}" for t in topics)
        content = [
            {
                "text": f"Findings (JSON): {json.dumps(findings.as_document(), sort_keys=True)}\n"
                f"Description: {description}\nTopics to put in context:\n{leads}\n"
                f"Reference passages:\n{passages or '(none)'}\n"
                "Write one short paragraph per topic that relates the finding to what the passages say, "
                "marking each passage you use as [n]. Use only these passages; say so when none applies. "
                f"List the numbers you cited in `cited`. Answer with {CONTEXT_TOOL}."
            }
        ]
        answer, usage = self._converse(content, _tool(CONTEXT_TOOL, "Record the report.", _Context))
        parsed = self._parse(_Context, answer)
        text = WrittenText(
            paragraphs=parsed.paragraphs, cited=sorted(set(parsed.cited)), writer=self.name, usage=usage
        )
        try:
            check_citations(text, sources)
        except ValueError as error:
            raise WriterFailed(str(error)) from error
        return text

    def _converse(
        self, content: list[dict[str, Any]], tool: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, int]]:
        name = tool["toolSpec"]["name"]
        response = self.runtime.converse(
            modelId=self.model_id,
            system=[{"text": SYSTEM_PROMPT}],
            messages=[{"role": "user", "content": content}],
            inferenceConfig={"maxTokens": self._max_tokens, "temperature": 0.0},
            toolConfig={"tools": [tool], "toolChoice": {"tool": {"name": name}}},
        )
        usage = {
            "input_tokens": int(response.get("usage", {}).get("inputTokens", 0)),
            "output_tokens": int(response.get("usage", {}).get("outputTokens", 0)),
            "latency_ms": int(response.get("metrics", {}).get("latencyMs", 0)),
        }
        for block in response.get("output", {}).get("message", {}).get("content", []):
            use = block.get("toolUse")
            if use and use.get("name") == name:
                return dict(use.get("input") or {}), usage
        raise WriterFailed(
            f"{self.model_id} did not answer with {name} (stop reason {response.get('stopReason')!r})"
        )

    @staticmethod
    def _parse(model: type[M], answer: dict[str, Any]) -> M:
        try:
            return model.model_validate(answer)
        except ValidationError as error:
            raise WriterFailed(
                f"the model's answer does not fit {model.__name__}: {error.errors()[0]['msg']}"
            ) from error


def writer_from_settings() -> TextWriter:
    model_id = get_settings().bedrock_model_id
    return BedrockWriter(model_id) if model_id else DeterministicComposer()
