"""Tools over rendered text: transcript validation and reading tool declarations back."""
