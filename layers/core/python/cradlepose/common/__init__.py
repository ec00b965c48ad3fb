"""What every capability shares: the use-case toolkit (pages, audit), the bus, the system actor."""
