-- wrk script: POST a client_credentials grant for the bench client; its HTTP Basic
-- credentials come from the BENCH_BASIC environment variable (base64 of id:secret).
wrk.method = "POST"
wrk.path = "/oauth2/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.body = "grant_type=client_credentials"
