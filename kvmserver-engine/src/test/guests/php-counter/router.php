<?php
// A per-process request counter for the built-in server with its default opcache:
//   php -S 127.0.0.1:PORT router.php
// PHP keeps no user state between requests, but opcache keeps this script compiled in its shared
// memory for the life of the process: every request is one opcache lookup (a miss the first time,
// a hit after), so hits + misses is the number of requests this process has served. In ephemeral
// mode every new connection must read "1". Without opcache the answer says so and is an error.
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
header('Content-Type: text/plain');
if ($status === false || empty($status['opcache_enabled'])) {
    http_response_code(500);
    echo "opcache is off";
    return true;
}
$statistics = $status['opcache_statistics'];
echo $statistics['hits'] + $statistics['misses'];
return true;
