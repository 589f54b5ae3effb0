package io.kvmserver.linux;

import io.kvmserver.memory.GuestMemory;
import io.kvmserver.x86.GuestCallPages;

/**
 * The fields of the answer page ({@link GuestCallPages}) as {@link GuestCalls} computes them
 * before an entry: one value, compared with what the page holds and written only when it
 * changed. Names and addresses are compared by identity (the host keeps one array per address).
 */
final class AnswerPage {

    static final byte[] NO_NAME = new byte[0];

    int connectionFd;
    int flags;
    int budget;
    byte[] name;
    int readLength;
    int listenerFd;
    int acceptFd;
    int refuses;
    byte[] peer;
    int epollFd;
    int epollAcceptFd;
    int epollCtlFd;
    int connectionEvents;
    boolean unmaps;
    long mapStart;
    long mapEnd;
    long reservedStart;
    long reservedEnd;
    long roomAbove;
    long reservedExtentEnd;
    int consoleFds;
    int consoleBudget;
    int status;

    void clear() {
        connectionFd = -1;
        flags = 0;
        budget = 0;
        name = NO_NAME;
        readLength = 0;
        listenerFd = -1;
        acceptFd = -1;
        refuses = 0;
        peer = NO_NAME;
        epollFd = -1;
        epollAcceptFd = -1;
        epollCtlFd = -1;
        connectionEvents = 0;
        unmaps = false;
        mapStart = 0;
        mapEnd = 0;
        reservedStart = 0;
        reservedEnd = 0;
        roomAbove = 0;
        reservedExtentEnd = 0;
        consoleFds = 0;
        consoleBudget = 0;
        status = 0;
    }

    boolean sameAs(AnswerPage o) {
        return connectionFd == o.connectionFd && flags == o.flags && budget == o.budget && name == o.name
                && readLength == o.readLength && listenerFd == o.listenerFd && acceptFd == o.acceptFd
                && refuses == o.refuses && peer == o.peer && epollFd == o.epollFd && epollAcceptFd == o.epollAcceptFd
                && epollCtlFd == o.epollCtlFd && connectionEvents == o.connectionEvents && unmaps == o.unmaps
                && mapStart == o.mapStart && mapEnd == o.mapEnd && reservedStart == o.reservedStart
                && reservedEnd == o.reservedEnd && roomAbove == o.roomAbove && reservedExtentEnd == o.reservedExtentEnd
                && consoleFds == o.consoleFds && consoleBudget == o.consoleBudget && status == o.status;
    }

    void copyFrom(AnswerPage o) {
        connectionFd = o.connectionFd;
        flags = o.flags;
        budget = o.budget;
        name = o.name;
        readLength = o.readLength;
        listenerFd = o.listenerFd;
        acceptFd = o.acceptFd;
        refuses = o.refuses;
        peer = o.peer;
        epollFd = o.epollFd;
        epollAcceptFd = o.epollAcceptFd;
        epollCtlFd = o.epollCtlFd;
        connectionEvents = o.connectionEvents;
        unmaps = o.unmaps;
        mapStart = o.mapStart;
        mapEnd = o.mapEnd;
        reservedStart = o.reservedStart;
        reservedEnd = o.reservedEnd;
        roomAbove = o.roomAbove;
        reservedExtentEnd = o.reservedExtentEnd;
        consoleFds = o.consoleFds;
        consoleBudget = o.consoleBudget;
        status = o.status;
    }

    /**
     * Writes this value into the answer page of {@code memory}; the addresses only where they
     * differ from {@code shown}, what the page holds (null: it holds nothing known, write all).
     */
    void writeInto(GuestMemory memory, AnswerPage shown) {
        if (shown == null || name != shown.name) {
            memory.write(GuestCallPages.NAME, name, 0, name.length);
            memory.putInt(GuestCallPages.NAME_LENGTH, name.length);
        }
        if (shown == null || peer != shown.peer) {
            memory.write(GuestCallPages.PEER, peer, 0, peer.length);
            memory.putInt(GuestCallPages.PEER_LENGTH, peer.length);
        }
        memory.putInt(GuestCallPages.CONNECTION_FD, connectionFd);
        memory.putInt(GuestCallPages.CONNECTION_FLAGS, flags);
        memory.putInt(GuestCallPages.WRITE_BUDGET, budget);
        memory.putInt(GuestCallPages.READ_LENGTH, readLength);
        memory.putInt(GuestCallPages.LISTENER_FD, listenerFd);
        memory.putInt(GuestCallPages.ACCEPT_FD, acceptFd);
        memory.putInt(GuestCallPages.LISTENER_REFUSES, refuses);
        memory.putInt(GuestCallPages.EPOLL_FD, epollFd);
        memory.putInt(GuestCallPages.EPOLL_ACCEPT_FD, epollAcceptFd);
        memory.putInt(GuestCallPages.EPOLL_CTL_FD, epollCtlFd);
        memory.putInt(GuestCallPages.CONNECTION_EVENTS, connectionEvents);
        memory.putInt(GuestCallPages.UNMAPS, unmaps ? 1 : 0);
        memory.putLong(GuestCallPages.MAP_START, mapStart);
        memory.putLong(GuestCallPages.MAP_END, mapEnd);
        memory.putLong(GuestCallPages.RESERVED_START, reservedStart);
        memory.putLong(GuestCallPages.RESERVED_END, reservedEnd);
        memory.putLong(GuestCallPages.ROOM_ABOVE, roomAbove);
        memory.putLong(GuestCallPages.RESERVED_EXTENT_END, reservedExtentEnd);
        memory.putInt(GuestCallPages.CONSOLE_FDS, consoleFds);
        memory.putInt(GuestCallPages.CONSOLE_BUDGET, consoleBudget);
        memory.putInt(GuestCallPages.CONNECTION_STATUS, status);
    }
}
