// Boost.JSON compiled into the fuzz build (instead of linking Debian's libboost_json), so that
// libFuzzer sees coverage inside the JSON parser and learns the syntax of what it feeds in.
#include <boost/json/src.hpp>
