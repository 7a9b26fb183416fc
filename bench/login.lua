-- wrk script: POST a JSON login for the bench user.
wrk.method = "POST"
wrk.path = "/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"bench-password-1"}'
