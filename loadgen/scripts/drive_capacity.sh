#!/usr/bin/env bash
# Drive capacity, closed loop: memaslap versus ringcache-loadgen against one memcached thread,
# measured at the server. See drive_capacity.py for what is compared and how.
# Usage: drive_capacity.sh [SECONDS] [ROUNDS] [CONNS]
exec python3 "$(dirname "$0")/drive_capacity.py" "$@"
