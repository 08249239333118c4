-- INFO numpy as name/value pairs, for redis_exporter's --script option.
-- Each field becomes redis_script_values{key="numpy_arrays", ...}.
local out = {}
for name, value in string.gmatch(redis.call("INFO", "numpy"), "(numpy_[%w_]+):(%d+)") do
  out[#out + 1] = name
  out[#out + 1] = value
end
return out
