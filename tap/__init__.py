"""Pure helpers of TAP: config model, naming, tags, CIDR maths, offline plan. No resources here."""
