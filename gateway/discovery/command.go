package discovery

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/gateway"
)

// Command types of Motan's command format (ClientCommand.CommandType).
const (
	// CommandTraffic merges groups with weights and applies route rules.
	CommandTraffic = 0
	// CommandDegrade makes the matching clusters answer without calling
	// upstream.
	CommandDegrade = 1
	// CommandSwitcher sets run-time switches: pattern is
	// "name:true,name2:false".
	CommandSwitcher = 2
)

// Group weights of a traffic command, as motan-go's weighted load
// balancer normalises them: a weight below 1 (or not a number) counts as
// 1, above 100 as 100.
const (
	defaultGroupWeight = 1
	maxGroupWeight     = 100
)

// Command is the text of a command node: Motan's JSON format, e.g.
//
//	{"clientCommandList":[{"index":1,"version":"1.0","commandType":0,"dc":"yf",
//	  "pattern":"*","mergeGroups":["users-yf:60","users-tc:40"],
//	  "routeRules":[],"remark":"move 40% to tc"}]}
type Command struct {
	ClientCommandList []ClientCommand `json:"clientCommandList"`
}

// ClientCommand is one entry of a command.
type ClientCommand struct {
	// Index orders the entries: the lowest matching traffic entry wins.
	Index   int    `json:"index"`
	Version string `json:"version"`
	// CommandType is CommandTraffic, CommandDegrade or CommandSwitcher.
	CommandType int    `json:"commandType"`
	DC          string `json:"dc"`
	// Pattern selects the services: "*", a prefix of the service name or
	// a regular expression matching it (switcher entries: the switches).
	Pattern string `json:"pattern"`
	// MergeGroups are "group" or "group:weight"; with a weight on any
	// group, traffic is split between the groups by weight, otherwise
	// their endpoints are mixed into one list.
	MergeGroups []string `json:"mergeGroups"`
	// RouteRules are "FROM to TO": when this host's IP matches FROM, only
	// endpoints whose host matches TO are kept. A side is "*", an exact
	// IP, a prefix ending in "*" ("10.75.*"), each negated by a leading
	// "!".
	RouteRules []string `json:"routeRules"`
	Remark     string   `json:"remark"`

	re *regexp.Regexp // Pattern compiled, when it is not "*"
}

// ParseCommand parses and checks a command. The empty text (or only
// spaces) is no command: nil, nil. Any malformed entry rejects the whole
// command, so that an operator's typo never half-applies.
func ParseCommand(text string) (*Command, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var c Command
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		return nil, fmt.Errorf("command is not Motan command JSON: %v", err)
	}
	for i := range c.ClientCommandList {
		cc := &c.ClientCommandList[i]
		at := fmt.Sprintf("clientCommandList[%d] (index %d)", i, cc.Index)
		switch cc.CommandType {
		case CommandTraffic:
			if len(cc.MergeGroups) == 0 && len(cc.RouteRules) == 0 {
				return nil, fmt.Errorf("%s: a traffic command needs mergeGroups or routeRules", at)
			}
			for _, g := range cc.MergeGroups {
				name, w, ok := strings.Cut(g, ":")
				if strings.TrimSpace(name) == "" || strings.ContainsAny(name, "/ ") {
					return nil, fmt.Errorf("%s: merge group %q: the group name is empty or holds '/' or spaces", at, g)
				}
				if ok {
					if _, err := strconv.Atoi(strings.TrimSpace(w)); err != nil {
						return nil, fmt.Errorf("%s: merge group %q: weight %q is not an integer", at, g, w)
					}
				}
			}
			for _, r := range cc.RouteRules {
				if _, _, err := parseRouteRule(r); err != nil {
					return nil, fmt.Errorf("%s: %v", at, err)
				}
			}
		case CommandDegrade:
		case CommandSwitcher:
			if _, err := parseSwitches(cc.Pattern); err != nil {
				return nil, fmt.Errorf("%s: %v", at, err)
			}
			continue
		default:
			return nil, fmt.Errorf("%s: unknown commandType %d (0 traffic, 1 degrade, 2 switcher)", at, cc.CommandType)
		}
		if cc.Pattern == "" {
			return nil, fmt.Errorf("%s: pattern is empty (\"*\" matches every service)", at)
		}
		if cc.Pattern != "*" {
			re, err := regexp.Compile(cc.Pattern)
			if err != nil && !strings.ContainsAny(cc.Pattern, "*+?()[]{}|^$\\") {
				err = nil // a plain prefix
			}
			if err != nil {
				return nil, fmt.Errorf("%s: pattern %q is neither a prefix nor a regular expression: %v", at, cc.Pattern, err)
			}
			cc.re = re
		}
	}
	sort.SliceStable(c.ClientCommandList, func(i, j int) bool {
		return c.ClientCommandList[i].Index < c.ClientCommandList[j].Index
	})
	return &c, nil
}

// Matches reports whether the entry applies to service: a switcher entry
// always does; others when the pattern is "*", a prefix of service, or a
// regular expression matching it (as motan-go matches).
func (cc *ClientCommand) Matches(service string) bool {
	if cc.CommandType == CommandSwitcher || cc.Pattern == "*" || strings.HasPrefix(service, cc.Pattern) {
		return true
	}
	return cc.re != nil && cc.re.MatchString(service)
}

// Active are the command entries in force for one cluster.
type Active struct {
	// Traffic is the lowest-index matching traffic entry, or nil.
	Traffic *ClientCommand `json:"traffic,omitempty"`
	// Degrade is a matching degrade entry, or nil: while set, the
	// cluster answers without calling upstream.
	Degrade *ClientCommand `json:"degrade,omitempty"`
	// Switcher is a switcher entry, or nil.
	Switcher *ClientCommand `json:"switcher,omitempty"`
}

// Resolve picks the entries in force for service from commands in order
// of precedence (the agent command, then the group's): for each type, the
// first command that has a matching entry of that type decides.
func Resolve(service string, commands ...*Command) Active {
	var a Active
	for _, c := range commands {
		if c == nil {
			continue
		}
		var tc, dc, sc *ClientCommand
		for i := range c.ClientCommandList {
			cc := &c.ClientCommandList[i]
			if !cc.Matches(service) {
				continue
			}
			switch cc.CommandType {
			case CommandTraffic:
				if tc == nil {
					tc = cc
				}
			case CommandDegrade:
				dc = cc
			case CommandSwitcher:
				sc = cc
			}
		}
		if a.Traffic == nil {
			a.Traffic = tc
		}
		if a.Degrade == nil {
			a.Degrade = dc
		}
		if a.Switcher == nil {
			a.Switcher = sc
		}
	}
	return a
}

// MergeGroup is one group of a traffic command.
type MergeGroup struct {
	Name string
	// Weight is the normalised weight; 0 when the command gives none.
	Weight int
}

// Groups returns the groups of a traffic entry with their weights
// and whether any weight was given (otherwise the groups are mixed).
func (cc *ClientCommand) Groups() (groups []MergeGroup, weighted bool) {
	for _, g := range cc.MergeGroups {
		name, ws, ok := strings.Cut(g, ":")
		mg := MergeGroup{Name: strings.TrimSpace(name)}
		if ok {
			weighted = true
			w, err := strconv.Atoi(strings.TrimSpace(ws))
			switch {
			case err != nil || w < 1:
				w = defaultGroupWeight
			case w > maxGroupWeight:
				w = maxGroupWeight
			}
			mg.Weight = w
		}
		groups = append(groups, mg)
	}
	if weighted {
		for i := range groups {
			if groups[i].Weight == 0 {
				groups[i].Weight = defaultGroupWeight
			}
		}
	}
	return groups, weighted
}

// ApplyTraffic computes a cluster's endpoint set under a traffic entry:
// the union of the merged groups' endpoints (each keeps its Group), split
// by group weight when the entry gives weights, then filtered by the
// route rules that apply to localIP. endpoints maps a group to its known
// endpoints. When the result is empty (no merged group has endpoints, or
// the rules leave none), the own group's endpoints serve unchanged and ok
// is false, as motan-go falls back to its own group.
func ApplyTraffic(own string, tc *ClientCommand, endpoints map[string][]gateway.Endpoint, localIP string) (set gateway.EndpointSet, ok bool) {
	if tc == nil {
		return gateway.EndpointSet{Endpoints: endpoints[own]}, true
	}
	groups, weighted := tc.Groups()
	if len(groups) == 0 { // route rules only: on the own group
		groups = []MergeGroup{{Name: own}}
	}
	var eps []gateway.Endpoint
	var weights map[string]int
	for _, g := range groups {
		for _, ep := range endpoints[g.Name] {
			ep.Group = g.Name
			eps = append(eps, ep)
		}
		if weighted {
			if weights == nil {
				weights = map[string]int{}
			}
			weights[g.Name] = g.Weight
		}
	}
	eps = FilterRoutes(eps, tc.RouteRules, localIP)
	if len(eps) == 0 {
		return gateway.EndpointSet{Endpoints: endpoints[own]}, false
	}
	return gateway.EndpointSet{Endpoints: eps, GroupWeights: weights}, true
}

// FilterRoutes applies route rules ("FROM to TO") in order: each rule
// whose FROM matches localIP keeps only the endpoints whose host matches
// TO. Malformed rules are skipped (ParseCommand rejects them).
func FilterRoutes(eps []gateway.Endpoint, rules []string, localIP string) []gateway.Endpoint {
	for _, r := range rules {
		from, to, err := parseRouteRule(r)
		if err != nil || !matchIP(from, localIP) {
			continue
		}
		kept := make([]gateway.Endpoint, 0, len(eps))
		for _, ep := range eps {
			host := ep.Addr
			if h, _, err := net.SplitHostPort(ep.Addr); err == nil {
				host = h
			}
			if matchIP(to, host) {
				kept = append(kept, ep)
			}
		}
		eps = kept
	}
	return eps
}

func parseRouteRule(r string) (from, to string, err error) {
	f := strings.Fields(r)
	if len(f) != 3 || f[1] != "to" {
		return "", "", fmt.Errorf("route rule %q is not \"FROM to TO\"", r)
	}
	return f[0], f[2], nil
}

// matchIP matches a route rule side against an IP: "*", "prefix*",
// an exact IP, each negated by a leading "!".
func matchIP(rule, ip string) bool {
	neg := strings.HasPrefix(rule, "!")
	rule = strings.TrimPrefix(rule, "!")
	var m bool
	switch i := strings.IndexByte(rule, '*'); {
	case rule == "*":
		m = true
	case i >= 0:
		m = strings.HasPrefix(ip, rule[:i])
	default:
		m = ip == rule
	}
	return m != neg
}

// parseSwitches parses a switcher entry's pattern "name:true,name2:false".
func parseSwitches(pattern string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, item := range strings.Split(pattern, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, ":")
		on, err := strconv.ParseBool(strings.TrimSpace(val))
		if !ok || err != nil || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("switcher pattern item %q is not name:true or name:false", item)
		}
		out[strings.TrimSpace(name)] = on
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("switcher pattern %q names no switch", pattern)
	}
	return out, nil
}

// GroupShare is one group's part of a cluster's traffic.
type GroupShare struct {
	Group     string `json:"group"`
	Endpoints int    `json:"endpoints"`
	// Weight is the group's weight (0 when groups are mixed).
	Weight int `json:"weight,omitempty"`
	// Percent is the expected share of calls.
	Percent float64 `json:"percent"`
}

// Split describes how set divides traffic between groups: by group weight
// among the groups that have endpoints, or, without weights, in
// proportion to the endpoints' weights.
func Split(set gateway.EndpointSet) []GroupShare {
	byGroup := map[string]*GroupShare{}
	epWeight := map[string]int{}
	var order []string
	for _, ep := range set.Endpoints {
		gs := byGroup[ep.Group]
		if gs == nil {
			gs = &GroupShare{Group: ep.Group}
			byGroup[ep.Group] = gs
			order = append(order, ep.Group)
		}
		gs.Endpoints++
		epWeight[ep.Group] += ep.EffectiveWeight()
	}
	total := 0
	for _, g := range order {
		if len(set.GroupWeights) > 0 {
			byGroup[g].Weight = set.GroupWeights[g]
			total += set.GroupWeights[g]
		} else {
			total += epWeight[g]
		}
	}
	out := make([]GroupShare, 0, len(order))
	for _, g := range order {
		gs := byGroup[g]
		w := epWeight[g]
		if len(set.GroupWeights) > 0 {
			w = gs.Weight
		}
		if total > 0 {
			gs.Percent = float64(w) * 100 / float64(total)
		}
		out = append(out, *gs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
