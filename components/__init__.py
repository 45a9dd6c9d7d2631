"""TAP's Pulumi components: one ComponentResource per module."""
