-- wrk script: each request takes action with a new, unique email address, carrying the CSRF
-- cookie and token the harness fetched once (the token is valid for every request made with
-- that cookie). Environment: BENCH_PATH, BENCH_TOKEN, BENCH_COOKIE, BENCH_PREFIX.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("BENCH_PATH")
  token = os.getenv("BENCH_TOKEN")
  cookie = os.getenv("BENCH_COOKIE")
  prefix = os.getenv("BENCH_PREFIX") or "bench"
  counter = 0
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie }
  fixed = "first_name=Ana&last_name=Silva&postal_code=K1A+0B1&consent=yes"
    .. "&subject=Please+act&message=People+seeking+safety+deserve+a+hearing."
    .. "&csrf_token=" .. token
end

function request()
  counter = counter + 1
  local email = prefix .. "-" .. id .. "-" .. counter .. "%40example.org"
  return wrk.format("POST", path, headers, fixed .. "&email=" .. email)
end
