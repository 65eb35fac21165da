// GET /v1/stats (admin): the program's figures (api/stats_figures.hpp). Single mode reads this
// folder's counters; cluster mode asks every partition's owner for its partition's counters
// (as member search does) and adds them up here.
#include <boost/json/parse.hpp>

#include "api/cluster_reads.hpp"
#include "api/handlers.hpp"
#include "api/problem.hpp"
#include "api/stats_figures.hpp"
#include "ops/job_service.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

Status count_jobs(const ApiContext& context, JobCounts& out) {
  out = {};
  if (context.jobs == nullptr) return Status::ok_status();
  std::vector<JobRecord> unfinished;
  if (Status status = context.jobs->list(/*unfinished_only=*/true, unfinished); !status.ok()) {
    return status;
  }
  for (const JobRecord& job : unfinished) {
    (job.state == JobState::running ? out.running : out.queued) += 1;
  }
  return Status::ok_status();
}

HttpResponse partition_unavailable() {
  return problem_response(ErrorCode::unavailable,
                          "a partition has no owner serving reads this moment (it moves); retry "
                          "shortly");
}

}  // namespace

RouteResult handle_stats(const ApiContext& context, const HttpRequest& request,
                         const std::optional<Principal>& principal, boost::urls::params_view params,
                         bool forwarded) {
  std::variant<StatsQuery, HttpResponse> parsed = parse_stats_query(params, forwarded);
  if (auto* refusal = std::get_if<HttpResponse>(&parsed)) return std::move(*refusal);
  const StatsQuery query = std::get<StatsQuery>(parsed);
  StatTotals totals;
  if (query.partition) {  // one partition's owner, asked by the node that renders
    if (Status status = context.store->load_stats(query.partition, totals); !status.ok()) {
      return problem_response(storage_problem(status, "read the figures"));
    }
    return json_response(http::status::ok, counters_json(totals));
  }
  JobCounts jobs;
  if (Status status = count_jobs(context, jobs); !status.ok()) {
    return problem_response(storage_problem(status, "count the jobs"));
  }
  const std::shared_ptr<const ProgramVersion> program = context.programs->active();
  const TimeMs now = context.clock();
  if (context.cluster_reads == nullptr || forwarded) {
    if (Status status = context.store->load_stats(std::nullopt, totals); !status.ok()) {
      return problem_response(storage_problem(status, "read the figures"));
    }
    return json_response(http::status::ok,
                         stats_json(totals, program->program, now, query.days, jobs));
  }
  return Deferred{[cluster = context.cluster_reads, request, principal, program, now, jobs,
                   days = query.days](Respond respond) {
    cluster->ask_every_partition_for(
        request, principal, [respond, program, now, jobs, days](ClusterReads::Responses responses) {
          StatTotals sum;
          for (std::optional<HttpResponse>& response : responses) {
            if (!response) return respond(partition_unavailable());
            if (response->result() != http::status::ok) return respond(std::move(*response));
            boost::system::error_code error;
            const json::value body = json::parse(response->body(), error);
            if (error || !add_counters(body, sum)) {
              return respond(problem_response(ErrorCode::unavailable,
                                              "a partition's owner sent figures this node "
                                              "cannot read; retry shortly"));
            }
          }
          respond(
              json_response(http::status::ok, stats_json(sum, program->program, now, days, jobs)));
        });
  }};
}

}  // namespace loyalty::api
