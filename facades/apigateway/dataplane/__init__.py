"""The API Gateway data plane: deployed stages answering HTTP requests.

One request pipeline (:mod:`.pipeline`), each step a module of its own.
"""
