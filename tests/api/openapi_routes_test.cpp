// docs/openapi.json and the router describe the same API: every route is in the document and
// every path and method of the document is a route that route() serves.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "api/openapi.hpp"
#include "api/router.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

using RouteKey = std::pair<std::string, std::string>;  // (lower-case method, path template)

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

json::object parse_document(std::string_view text) {
  boost::system::error_code error;
  json::value value = json::parse(text, error);
  EXPECT_FALSE(error) << error.message();
  EXPECT_TRUE(value.is_object());
  return value.is_object() ? value.as_object() : json::object{};
}

std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(LOYALTY_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<RouteKey> document_routes(const json::object& document) {
  static const std::set<std::string> kMethods = {"get",   "put",     "post", "delete",
                                                 "patch", "options", "head", "trace"};
  std::set<RouteKey> out;
  for (const auto& [path, item] : document.at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      if (kMethods.contains(std::string(method))) out.emplace(method, path);
    }
  }
  return out;
}

std::set<RouteKey> table_routes() {
  std::set<RouteKey> out;
  for (const RouteSpec& spec : routes()) {
    out.emplace(lower(http::to_string(spec.method)), std::string(spec.path));
  }
  return out;
}

// A concrete target for a path template: "{member_id}" becomes "x1".
std::string sample_target(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '{') {
      out += path[i];
      continue;
    }
    i = path.find('}', i);
    out += "x1";
  }
  return out;
}

TEST(OpenApi, RepositoryFileIsValidJsonWithTheRequiredFields) {
  const std::string text = read_source_file("docs/openapi.json");
  ASSERT_FALSE(text.empty()) << "docs/openapi.json is missing";
  const json::object document = parse_document(text);
  ASSERT_TRUE(document.contains("openapi"));
  EXPECT_TRUE(document.at("openapi").as_string().starts_with("3.0."));
  ASSERT_TRUE(document.contains("info"));
  EXPECT_TRUE(document.at("info").as_object().contains("title"));
  EXPECT_TRUE(document.at("info").as_object().contains("version"));
  ASSERT_TRUE(document.contains("paths"));
  ASSERT_TRUE(document.contains("components"));
  const json::object& components = document.at("components").as_object();
  const json::object& schemes = components.at("securitySchemes").as_object();
  EXPECT_TRUE(schemes.contains("apiKey"));
  EXPECT_TRUE(schemes.contains("memberToken"));
  const json::object& problem = components.at("schemas").at("Problem").as_object();
  for (const char* field : {"type", "title", "status", "code", "detail", "errors"}) {
    EXPECT_TRUE(problem.at("properties").as_object().contains(field)) << field;
  }
}

TEST(OpenApi, ServedDocumentIsTheRepositoryFile) {
  EXPECT_EQ(openapi_document(), read_source_file("docs/openapi.json"));
  const HttpResponse response = handle_openapi();
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::content_type], "application/json");
}

TEST(OpenApi, ErrorCodesAreTheEngines) {
  const json::object document = parse_document(openapi_document());
  std::set<std::string> documented;
  for (const json::value& code :
       document.at("components").at("schemas").at("ErrorCode").at("enum").as_array()) {
    documented.emplace(code.as_string());
  }
  // Every code the engine names: they are numbered from 1 without gaps, and a number past the
  // last has no name.
  std::set<std::string> engine;
  for (auto number = static_cast<uint16_t>(ErrorCode::invalid_request);
       error_code_name(static_cast<ErrorCode>(number)) != "unknown"; ++number) {
    engine.emplace(error_code_name(static_cast<ErrorCode>(number)));
  }
  EXPECT_TRUE(engine.contains("coupon_not_active")) << "the newest codes are counted too";
  EXPECT_EQ(documented, engine);
}

TEST(OpenApi, DocumentsExactlyTheRoutesServed) {
  const json::object document = parse_document(openapi_document());
  const std::set<RouteKey> documented = document_routes(document);
  const std::set<RouteKey> served = table_routes();
  for (const RouteKey& route : served) {
    EXPECT_TRUE(documented.contains(route))
        << "served but not in docs/openapi.json: " << route.first << " " << route.second;
  }
  for (const RouteKey& route : documented) {
    EXPECT_TRUE(served.contains(route))
        << "in docs/openapi.json but not a route: " << route.first << " " << route.second;
  }
}

// The table is what route() serves: each entry, called without credentials, reaches its
// route (401 for the authenticated ones, an answer for the open ones), never 404 or 405.
TEST(Router, ServesEveryRouteOfTheTable) {
  ApiContext context;  // no services: nothing here may reach them
  for (const RouteSpec& spec : routes()) {
    if (spec.websocket()) continue;  // taken over by the session before route()
    HttpRequest request{spec.method, sample_target(spec.path), 11};
    RouteResult result = route(context, request, std::nullopt);
    const HttpResponse* response = std::get_if<HttpResponse>(&result);
    ASSERT_NE(response, nullptr) << spec.path;
    EXPECT_NE(response->result(), http::status::not_found) << spec.path;
    EXPECT_NE(response->result(), http::status::method_not_allowed) << spec.path;
  }
}

// A path that matches with another method answers 405 naming the methods it has (those of the
// routes with a literal suffix, like :capture, when the path has one); an unknown path 404.
TEST(Router, WrongMethodsAndUnknownPathsAnswer405And404) {
  ApiContext context;
  const auto answer = [&](http::verb method, std::string_view target) {
    HttpRequest request{method, target, 11};
    RouteResult result = route(context, request, std::nullopt);
    const HttpResponse* response = std::get_if<HttpResponse>(&result);
    EXPECT_NE(response, nullptr) << target;
    return response
               ? std::make_pair(response->result(), std::string((*response)[http::field::allow]))
               : std::make_pair(http::status::unknown, std::string());
  };
  EXPECT_EQ(answer(http::verb::patch, "/v1/program"),
            std::make_pair(http::status::method_not_allowed, std::string("GET, PUT")));
  EXPECT_EQ(answer(http::verb::delete_, "/v1/holds/h1:capture"),
            std::make_pair(http::status::method_not_allowed, std::string("POST")));
  EXPECT_EQ(answer(http::verb::post, "/v1/holds/h1"),
            std::make_pair(http::status::method_not_allowed, std::string("GET")));
  EXPECT_EQ(answer(http::verb::post, "/healthz"),
            std::make_pair(http::status::method_not_allowed, std::string("GET")));
  // A GET of a hold whose id ends in ":capture" is the hold's GET (401: it needs a key).
  EXPECT_EQ(answer(http::verb::get, "/v1/holds/h1:capture").first, http::status::unauthorized);
  for (const char* target : {"/v1/nothing", "/v1/members/m1/nothing", "/v1/members/", "/",
                             "/v2/members", "/v1/stream"}) {
    EXPECT_EQ(answer(http::verb::get, target).first, http::status::not_found) << target;
  }
}

TEST(Router, RouteTemplatesNameTheRoute) {
  EXPECT_EQ(route_template("/v1/events/purchase"), "/v1/events/purchase");
  EXPECT_EQ(route_template("/v1/members/m-42?x=1"), "/v1/members/{member_id}");
  EXPECT_EQ(route_template("/v1/members/m-42/ledger?limit=5"), "/v1/members/{member_id}/ledger");
  EXPECT_EQ(route_template("/v1/holds/h:1:capture"), "/v1/holds/{hold_id}:capture");
  EXPECT_EQ(route_template("/v1/holds/h:1"), "/v1/holds/{hold_id}");
  EXPECT_EQ(route_template("/v1/members:lookup?phone=1"), "/v1/members:lookup");
  EXPECT_EQ(route_template("/metrics"), "/metrics");
  EXPECT_EQ(route_template("/v2/anything"), std::nullopt);
  EXPECT_EQ(route_template("/"), std::nullopt);
}

}  // namespace
}  // namespace loyalty::api
