// The group members picker (issue 14 point 2): a dual list — users to add on one side (searched
// on the server), members on the other (filtered here), each row one line with its own button —
// so every entry keeps its size at any width; side by side on wide screens, stacked on phones.

import { useState } from "react";
import { FilterInput } from "./ui";

export interface PickUser {
  id: number;
  username: string;
  full_name?: string | null;
}

export function MembersPicker(props: {
  members: number[];
  onChange: (ids: number[]) => void;
  nameOf: (id: number) => string;
  candidates: PickUser[];
  loading: boolean;
  query: string;
  onQuery: (q: string) => void;
  disabled?: boolean;
}) {
  const [memberQ, setMemberQ] = useState("");
  const mq = memberQ.trim().toLowerCase();
  const shownMembers = props.members.filter((id) => !mq || props.nameOf(id).toLowerCase().includes(mq));
  const available = props.candidates.filter((u) => !props.members.includes(u.id));
  const n = props.members.length;
  return (
    <div className="dual-list" data-testid="members-picker">
      <div className="dual-col">
        <h3 id="avail-h">Users</h3>
        <FilterInput id="member-q" label="Find users to add" value={props.query} onValue={props.onQuery} />
        <ul className="pick-rows" aria-labelledby="avail-h" aria-busy={props.loading || undefined}>
          {available.map((u) => (
            <li key={u.id} data-testid="pick-available">
              <span className="pick-name" title={u.full_name ?? undefined}>
                {u.username}
              </span>
              <button type="button" className="small" disabled={props.disabled} onClick={() => props.onChange([...props.members, u.id])} aria-label={`Add ${u.username}`}>
                Add
              </button>
            </li>
          ))}
          {!props.loading && available.length === 0 && <li className="hint empty">{props.query ? "No user matches." : "Every user is already a member."}</li>}
        </ul>
      </div>
      <div className="dual-col">
        <h3 id="members-h">
          Members{" "}
          <span className="count" data-testid="member-count">
            ({n})
          </span>
        </h3>
        <FilterInput id="member-filter" label="Filter members" value={memberQ} onValue={setMemberQ} />
        <ul className="pick-rows" aria-labelledby="members-h">
          {shownMembers.map((id) => (
            <li key={id} data-testid="pick-member">
              <span className="pick-name">{props.nameOf(id)}</span>
              <button type="button" className="small" disabled={props.disabled} onClick={() => props.onChange(props.members.filter((m) => m !== id))} aria-label={`Remove ${props.nameOf(id)}`}>
                Remove
              </button>
            </li>
          ))}
          {n === 0 && <li className="hint empty">No members yet: add users from the list.</li>}
          {n > 0 && shownMembers.length === 0 && <li className="hint empty">No member matches.</li>}
        </ul>
      </div>
    </div>
  );
}
