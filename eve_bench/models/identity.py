"""The identity model: returns its input. The lower bound every leaderboard shows."""

from eve_bench.models.base import EditRequest
from eve_bench.video import Video


class IdentityEditor:
    def edit(self, request: EditRequest) -> Video:
        return request.video
