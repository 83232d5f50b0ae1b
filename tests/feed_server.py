"""A calendar feed server for the tests: serves a folder over http on 127.0.0.1 with tornado's
static file handler (ETag from the content, Last-Modified, conditional answers), the way a
calendar provider serves an iCalendar address. Run as ``python -m tests.feed_server ROOT PORT``.
"""

from __future__ import annotations

import asyncio
import sys

from tornado import web


class CalendarFiles(web.StaticFileHandler):
    def get_content_type(self) -> str:
        return "text/calendar; charset=utf-8"


async def main(root: str, port: int) -> None:
    # The content's hash is the ETag; computed again at each request (the files change).
    app = web.Application([(r"/(.*)", CalendarFiles, {"path": root})], static_hash_cache=False)
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
