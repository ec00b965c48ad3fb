"""Parameter types shared by the routers."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from cradlepose.domain.bounds import BIGINT_MAX

ResourceId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
IdFilter = Annotated[int | None, Query(ge=1, le=BIGINT_MAX)]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
