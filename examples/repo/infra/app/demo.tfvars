greeting = "hello from v1"
