package admin

// Registry commands (docs/admin.md, docs/discovery.md):
//
//	GET  /commands                     the discovery state of every subscribed cluster
//	POST /commands/{cluster}/dryrun    {"command": ...} the split a command would produce
//	PUT  /commands/{cluster}           {"command": ...} set the command (static registries)

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/gateway/discovery"
)

// Commander is the part of a gateway that serves the /commands endpoints
// (package assembly implements it). A gateway without it answers 501.
type Commander interface {
	// Commands returns the discovery state of the generation in force.
	Commands() CommandsState
	// DryRunCommand computes what command would do to cluster without
	// applying it. Errors are *Error (404 unknown cluster, 400 bad
	// command).
	DryRunCommand(ctx context.Context, cluster, command string) (*discovery.DryRun, error)
	// ApplyCommand sets the command of cluster's group in its registry
	// when that registry takes commands from meshgate (static); "" clears
	// it. Errors are *Error (404, 409 for a registry that holds its own
	// commands, 400 bad command).
	ApplyCommand(cluster, command string) error
}

// CommandsState is GET /commands.
type CommandsState struct {
	// Clusters are the subscribed clusters: commands in force, active
	// entries, degrade, split.
	Clusters []discovery.ClusterState `json:"clusters"`
	// Exports are the entries the Motan2 ingress registered.
	Exports []discovery.ExportState `json:"exports"`
}

// commandBody is the body of PUT and dry run: the command as a JSON
// string or as the command object itself.
type commandBody struct {
	Command json.RawMessage `json:"command"`
}

func (b *commandBody) text() (string, error) {
	raw := strings.TrimSpace(string(b.Command))
	switch {
	case raw == "" || raw == "null":
		return "", nil
	case strings.HasPrefix(raw, `"`):
		var s string
		if err := json.Unmarshal(b.Command, &s); err != nil {
			return "", BadRequest("command: %v", err)
		}
		return s, nil
	case strings.HasPrefix(raw, "{"):
		return raw, nil
	}
	return "", BadRequest("command must be Motan command JSON, as an object or a string")
}

func (s *Server) commander() (Commander, error) {
	c, ok := s.opts.Gateway.(Commander)
	if !ok {
		return nil, &Error{Status: http.StatusNotImplemented, Message: "this gateway has no registry commands"}
	}
	return c, nil
}

func (s *Server) commands(w http.ResponseWriter, r *http.Request) error {
	c, err := s.commander()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c.Commands())
	return nil
}

func (s *Server) commandOne(w http.ResponseWriter, r *http.Request) error {
	c, err := s.commander()
	if err != nil {
		return err
	}
	cluster := r.PathValue("cluster")
	var body commandBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	text, err := body.text()
	if err != nil {
		return err
	}
	if err := c.ApplyCommand(cluster, text); err != nil {
		return err
	}
	s.log.Info("registry command set through the management API", "cluster", cluster, "command", text)
	for _, st := range c.Commands().Clusters {
		if st.Cluster == cluster {
			writeJSON(w, http.StatusOK, st)
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"cluster": cluster})
	return nil
}

func (s *Server) commandDryRun(w http.ResponseWriter, r *http.Request) error {
	c, err := s.commander()
	if err != nil {
		return err
	}
	var body commandBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	text, err := body.text()
	if err != nil {
		return err
	}
	dr, err := c.DryRunCommand(r.Context(), r.PathValue("cluster"), text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dr)
	return nil
}
