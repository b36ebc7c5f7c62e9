"""Hostile chat templates and the exact error each must end in (check-template's API and command line)."""

# Source -> the end of the error's message, which starts with the file and line.
HOSTILE = {
    "{% for x in range(10**9) %}{% endfor %}": "SecurityError: range of 1000000000 items would pass 1000000 "
                                               "iterations in one render",
    "{{ 'a' * 10**9 }}": "SecurityError: 'a' * 1000000000 would make 1000000000 items (the limit is 4000000)",
    "{{ 'a' * 10**10 }}": "SecurityError: 'a' * 10000000000 would make 10000000000 items (the limit is 4000000)",
    "{{ ''.__class__.__mro__ }}": "SecurityError: access to attribute '__class__' of 'str' object is unsafe.",
    "{{ cycler.__init__.__globals__ }}": "SecurityError: access to attribute '__init__' of 'type' object is unsafe.",
    "{{ lipsum.__globals__ }}": "UndefinedError: 'lipsum' is undefined",
}
