#include "logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace server_app {

namespace {

// nats-server's three-letter level names.
class level_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr std::string_view names[] = {"TRC", "DBG", "INF", "WRN", "ERR", "FTL", "OFF"};
    auto n = names[static_cast<int>(msg.level)];
    dest.append(n.data(), n.data() + n.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<level_flag>(); }
};

}  // namespace

std::string setup_logging(bool debug, bool trace, const std::string& logfile) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (logfile.empty()) {
      logger = std::make_shared<spdlog::logger>("dialtone", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    } else {
      logger = std::make_shared<spdlog::logger>("dialtone",
                                                std::make_shared<spdlog::sinks::basic_file_sink_mt>(logfile));
    }
  } catch (const spdlog::spdlog_ex& e) {
    return std::string("cannot open log file: ") + e.what();
  }
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<level_flag>('*').set_pattern("[%P] %Y/%m/%d %H:%M:%S.%f [%*] %v");
  logger->set_formatter(std::move(f));
  logger->set_level(trace ? spdlog::level::trace : debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace server_app
