"""What the services `firstseen cluster up` and the tests start on this machine share: they
listen on 127.0.0.1 only, each on a port free when it starts."""

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
