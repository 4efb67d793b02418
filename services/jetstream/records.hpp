#pragma once
// Stream and consumer records in the store's meta column family, serialized with
// cereal's portable binary archive. The configurations are kept as their JSON (the
// API's own form), so a record written by this version stays readable when fields are
// added.
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace jetstream {

struct stream_record {
  uint32_t version = 1;
  uint64_t id = 0;
  std::string account, name, config;  // config: StreamConfig JSON
  int64_t created = 0;
  template <class A>
  void serialize(A& a) {
    a(version, id, account, name, config, created);
  }
};

// Written with every batch, in the same write: sequences survive purges and restarts,
// and a restart needs no pass over the messages to count their bytes.
struct stream_state_record {
  // 2: the counts. 3: also whether the store keeps the stream's subject index (a
  // version 2 record's stream has one) and below which sequence its entries were put
  // again by put_index (deleted with subject_index::rewritten).
  uint32_t version = 3;
  uint64_t first_seq = 0, last_seq = 0, msgs = 0, bytes = 0;
  bool indexed = true;
  uint64_t reindexed_upto = 0;
  template <class A>
  void serialize(A& a) {
    a(version, first_seq, last_seq, msgs, bytes);
    if (version >= 3) a(indexed, reindexed_upto);
  }
};

struct pending_record {
  uint64_t sseq = 0, cseq = 0, deliveries = 0;
  template <class A>
  void serialize(A& a) {
    a(sseq, cseq, deliveries);
  }
};

struct consumer_record {
  uint32_t version = 1;
  std::string name, config;  // config: ConsumerConfig JSON
  int64_t created = 0;
  uint64_t next_sseq = 1, delivered_cseq = 0, delivered_sseq = 0, ack_floor_cseq = 0, ack_floor_sseq = 0;
  std::vector<pending_record> pending;
  template <class A>
  void serialize(A& a) {
    a(version, name, config, created, next_sseq, delivered_cseq, delivered_sseq, ack_floor_cseq, ack_floor_sseq,
      pending);
  }
};

template <class T>
std::string encode(const T& v) {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(v);
  }
  return os.str();
}

template <class T>
bool decode(const std::string& bytes, T& out) {
  try {
    std::istringstream is(bytes);
    cereal::PortableBinaryInputArchive ar(is);
    ar(out);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace jetstream
