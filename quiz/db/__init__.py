"""Database plumbing: fixed statements, the direct pool, grouping of writes, the embedded
server. No domain words here: the statements themselves live beside the rules they implement."""
