-- wrk script: POST a 1 KB JSON order (valid against bench/validation.yaml's Order model).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local notes = string.rep("n", 700)
wrk.body = '{"id":"ord-000042","customer":"Ada Lovelace","email":"ada@example.com",'
  .. '"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":249.99,"currency":"EUR",'
  .. '"status":"paid","created":1765000000,"notes":"' .. notes .. '","priority":false}'
