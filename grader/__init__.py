"""Everything around running checks on real submissions: the call boundary, release, reports and the `dlgrade` command."""
