"""Verification claims are leases.

A verifier's claim on an image (`Image.current_verifier`) lasts while they show signs of life:
claiming, renewing (`POST /claims/{image_id}/renew`, which the review page calls while it is
open) or deciding sets `Image.verifier_claimed_at`. A claim silent for longer than
`settings.claim_idle_timeout_s` has expired. Expiry is evaluated on read, in the queries that
hand out work, so no sweep or schedule is needed, locally or in the cloud: an expired claim stays
with its holder (who can still decide or release it) until someone else claims the image, and the
holder who comes back before that gets it back first.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from cradlepose.db.models import Image
from cradlepose.domain.actor import Actor
from cradlepose.settings import get_settings


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def idle_limit() -> dt.timedelta:
    return dt.timedelta(seconds=get_settings().claim_idle_timeout_s)


def last_sign_of_life() -> sa.ColumnElement[dt.datetime]:
    # Claims made before leases existed have no time of their own: their last status change is it.
    return sa.func.coalesce(Image.verifier_claimed_at, Image.last_status_change)


def expired() -> sa.ColumnElement[bool]:
    """SQL condition on Image: its claim has lapsed."""
    return last_sign_of_life() < now() - idle_limit()


def free_for(actor: Actor) -> sa.ColumnElement[bool]:
    """SQL condition on Image: nobody holds it, the actor does, or the holder's lease lapsed."""
    return sa.or_(Image.current_verifier.is_(None), Image.current_verifier == actor.user_id, expired())


def expires_at(image: Image) -> dt.datetime:
    return (image.verifier_claimed_at or image.last_status_change) + idle_limit()
