"""Integer types a client may send, bounded to the database column they end up in.

An id beyond PostgreSQL's bigint, or a count beyond integer, must be a 422 at the edge: reaching
the driver it is a 500 (`value ... is out of range for type bigint`). Every integer in a request
body or parameter uses one of these or its own tighter bounds; `tests/unit/test_openapi_document.py`
checks the published document for any that does not.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint: ids, byte sizes
INTEGER_MAX = 2**31 - 1  # PostgreSQL integer: counts, seeds, indices

DbId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
ByteSize = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Count = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
KeypointId = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
Score1To10 = Annotated[int, Field(ge=1, le=10)]
