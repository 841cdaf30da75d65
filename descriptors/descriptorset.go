package descriptors

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// missingInSetHint explains the usual cause of a missing import in a
// descriptor set.
const missingInSetHint = " in the descriptor set (was it generated with protoc --include_imports?)"

// LoadDescriptorSet reads a serialized google.protobuf.FileDescriptorSet,
// as written by protoc --descriptor_set_out=PATH --include_imports, and
// links it into a snapshot whose Source is "descriptor-set:PATH".
//
// Imports are resolved within the set; the well-known types and the
// google/api files (see BuiltinFiles) are used when the set lacks them. An
// import found in neither is an error naming the importing file and the
// missing one. Errors are prefixed with path.
func LoadDescriptorSet(path string) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("descriptor set: %w", err)
	}
	s, err := ParseDescriptorSet("descriptor-set:"+path, data)
	if err != nil {
		return nil, fmt.Errorf("descriptor set %s: %w", path, err)
	}
	return s, nil
}

// ParseDescriptorSet is LoadDescriptorSet for bytes already in memory;
// source becomes Snapshot.Source. It never panics, whatever data holds.
func ParseDescriptorSet(source string, data []byte) (*Snapshot, error) {
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet: %w", err)
	}
	return SnapshotFromSet(source, set)
}

// SnapshotFromSet links the files of a FileDescriptorSet, in any order,
// into a snapshot, with the import rules of LoadDescriptorSet. An empty set
// is an error: no tool writes one on purpose.
func SnapshotFromSet(source string, set *descriptorpb.FileDescriptorSet) (*Snapshot, error) {
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("descriptor set contains no files")
	}
	return buildSnapshot(source, set.GetFile(), missingInSetHint)
}
