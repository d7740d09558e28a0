"""All SQL lives here, one repository per aggregate."""
