"""(b) build() raises a BaseException that is not an Exception (as trio's Cancelled,
gevent's GreenletExit or pytest's outcomes are): it passes every `except Exception`."""


class Cancelled(BaseException):
    pass


def build() -> tuple:
    raise Cancelled("the data pipeline was cancelled")
